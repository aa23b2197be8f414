import numpy as np
import pytest

from facehealth.errors import InputError
from facehealth.faces.landmarks import inter_ocular_distance
from facehealth.faces.motion import aligned_landmarks, expression_motion


def _face() -> np.ndarray:
    """A rough 68-point frontal layout: enough for eye centres 60 px apart."""
    rng = np.random.default_rng(0)
    lm = rng.uniform(40, 160, (68, 2))
    lm[36:42] = [70, 80] + rng.normal(0, 2, (6, 2))
    lm[42:48] = [130, 80] + rng.normal(0, 2, (6, 2))
    return lm


def test_aligned_landmarks_applies_each_frames_matrix():
    lm = np.stack([_face(), _face() + 5])
    mats = np.array([[[2.0, 0, 1], [0, 2, -1]], [[0, -1, 10], [1, 0, 0]]])
    out = aligned_landmarks(lm.reshape(2, -1), mats.reshape(2, -1))
    assert np.allclose(out[0], lm[0] * 2 + [1, -1])
    assert np.allclose(out[1], np.c_[-lm[1][:, 1] + 10, lm[1][:, 0]])
    with pytest.raises(InputError, match="matrices"):
        aligned_landmarks(lm, mats[:1])


def test_motion_is_the_displacement_from_the_clips_median_shape_in_iods():
    base = _face()
    iod = inter_ocular_distance(base)
    clip = np.repeat(base[None], 5, axis=0)
    clip[3, [48, 54], 1] -= 0.1 * iod  # one frame smiles: the mouth corners rise a tenth of an IOD
    motion = expression_motion(clip)
    assert motion.shape == (5, 68, 2)
    assert np.allclose(motion[3, [48, 54], 1], -0.1)
    assert np.abs(np.delete(motion[3], [48, 54], axis=0)).max() == 0 and np.abs(motion[[0, 1, 2, 4]]).max() == 0
    # Who the person is (their shape) and the crop scale drop out.
    assert np.allclose(expression_motion(clip * 2.5 + 7), motion)


def test_motion_rejects_malformed_clips():
    with pytest.raises(InputError, match="68"):
        expression_motion(np.zeros((4, 5, 2)))
    with pytest.raises(InputError, match="inter-ocular"):
        expression_motion(np.zeros((4, 68, 2)))


def test_a_resolution_change_mid_clip_adds_no_jump_to_the_motion(resolution_change_video):
    """Normalised, not restarted: each frame goes through its own alignment, so halving the frame
    (frame 25) and changing the aspect (frame 50) leave the motion at its usual ~0.02 IOD."""
    from facehealth.faces.io import iter_video_frames
    from facehealth.faces.pipeline import FacePipeline

    pipeline = FacePipeline()
    keep = set(range(20, 30)) | set(range(45, 55))
    faces = [
        pipeline.process(f.image).faces[0] for f in iter_video_frames(resolution_change_video.path) if f.index in keep
    ]
    photo = np.stack([f.landmarks for f in faces])
    motion = expression_motion(aligned_landmarks(photo, np.stack([f.aligned.matrix for f in faces])))
    assert np.linalg.norm(motion, axis=2).mean(axis=1).max() < 0.05
    # The same landmarks in frame pixels jump by several inter-ocular distances at each change.
    raw_step = np.linalg.norm(np.diff(photo, axis=0), axis=2).mean(axis=1) / inter_ocular_distance(photo[0])
    assert raw_step[4] > 0.5 and raw_step[14] > 0.5
