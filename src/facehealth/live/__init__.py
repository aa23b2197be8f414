"""Live video: contactless heart rate (rPPG), face tracking and rolling scores on a stream.

Modules: :mod:`~facehealth.live.signal` (filters, spectral peak), :mod:`~facehealth.live.rppg`
(POS / CHROM on landmark skin regions), :mod:`~facehealth.live.tracker` (detect every N frames,
optical flow in between), :mod:`~facehealth.live.rolling` (quality-weighted rolling scores with
intervals), :mod:`~facehealth.live.sources` (files, cameras, URLs, pushed frames) and
:mod:`~facehealth.live.engine` (the loop that ties them together and emits events).
"""
