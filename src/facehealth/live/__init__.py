"""Live video: contactless heart rate (rPPG), face tracking and rolling scores on a stream.

Modules: :mod:`~facehealth.live.signal` (filters, spectral peak), :mod:`~facehealth.live.rppg`
(POS / CHROM on landmark skin regions), :mod:`~facehealth.live.tracker` (detect every N frames,
optical flow in between), :mod:`~facehealth.live.rolling` (quality-weighted rolling scores with
intervals), :mod:`~facehealth.live.sources` (files, cameras, URLs, pushed frames) and
:mod:`~facehealth.live.engine` (the loop that ties them together), :mod:`~facehealth.live.events`
(JSON-lines records), :mod:`~facehealth.live.preview` (annotated video),
:mod:`~facehealth.live.session` (source -> engine -> files, what the CLI and service call),
:mod:`~facehealth.live.stimuli` (the Emoface recording protocol) and
:mod:`~facehealth.live.synthetic` (generated planted-pulse videos for tests and benchmarks).
Nothing heavy is imported here: import the module you need.
"""
