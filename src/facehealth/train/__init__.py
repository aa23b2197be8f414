"""Training: MAE self-supervised pretraining and multi-task clinical fine-tuning of face models.

Modules: ``config`` (``PretrainConfig``, ``OptimConfig``), ``engine`` (``pretrain_mae``: the
MAE loop with cosine schedule, resume and ``torchrun`` data parallel), ``finetune``
(``FinetuneConfig``, ``finetune``, ``predict_cohort``: the task heads on a pretrained encoder,
early stopping and subject-level predictions for every split) and ``heads`` (fitting each head
on frozen features before fine-tuning, LP-FT). Checkpoints are written with
:mod:`facehealth.models.checkpoint`.
"""
