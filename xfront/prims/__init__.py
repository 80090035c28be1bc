"""xfront's primitives: the strict operations every program is built from.

Each primitive is declared once (xfront/prims/<family>.py) with its shape/dtype rule, NumPy
reference, StableHLO lowering rule (in xfront.lowering.rules) and VJP. ``PRIMITIVES`` maps
names to primitives for printing and tests; dispatch never goes through names.

Import order matters only for cycles: families reference each other as modules.
"""

from xfront._core import NONDIFFERENTIABLE, PRIMITIVES, VJP_TODO, Primitive  # noqa: F401
from xfront.prims import shape  # noqa: F401  (first: elementwise helpers use it)
from xfront.prims import elementwise  # noqa: F401
from xfront.prims import reduction  # noqa: F401
from xfront.prims import linalg  # noqa: F401
from xfront.prims import conv  # noqa: F401
from xfront.prims import control  # noqa: F401
from xfront.prims import random  # noqa: F401
from xfront.prims import indexing  # noqa: F401
from xfront.prims import sort  # noqa: F401

from xfront.prims import fft  # noqa: F401
