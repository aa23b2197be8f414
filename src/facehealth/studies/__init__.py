"""Study designs that train and evaluate (label efficiency, external sites, baselines, subgroups).

Studies sit above ``train`` and ``evaluate`` in the flow: they orchestrate fine-tuning runs
(:mod:`facehealth.studies.arms`) and score them with the pure metrics of
:mod:`facehealth.evaluate`, so ``evaluate`` itself never trains anything.
"""
