"""The pipeline's stages, one module each, in the order they run (common.py: what they share)."""
from . import base, builder, fetch, image, mtr, rpms, save, toolchain, verify
from .common import Context, Stage

ALL: tuple[Stage, ...] = (base.STAGE, fetch.STAGE, toolchain.STAGE, builder.STAGE, rpms.STAGE, image.STAGE, verify.STAGE,
                          save.STAGE, mtr.STAGE)

__all__ = ["ALL", "Context", "Stage"]
