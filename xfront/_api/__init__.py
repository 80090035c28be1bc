"""The implementation of the ``xfront`` namespace, one module per Array API section.

xfront/__init__.py re-exports these names explicitly; ``Array`` operators reach them through
``xfront._array._ns`` (set below).
"""

from xfront import _array
from xfront._api import _creation, _data_types, _elementwise, _indexing, _linalg  # noqa: F401
from xfront._api import _manipulation, _searching, _statistical  # noqa: F401
from xfront._api._elementwise import *  # noqa: F401,F403
from xfront._api._creation import *  # noqa: F401,F403
from xfront._api._data_types import astype, can_cast, finfo, iinfo, isdtype, result_type  # noqa: F401
from xfront._api._utility import diff  # noqa: F401
from xfront._api._indexing import _AtIndexer, getitem as _getitem  # noqa: F401
from xfront._api._linalg import matmul, matrix_transpose, tensordot, vecdot  # noqa: F401
from xfront._api._manipulation import *  # noqa: F401,F403
from xfront._api._searching import (nonzero, unique_all, unique_counts,  # noqa: F401
                                    unique_inverse, unique_values)
from xfront._api._statistical import (all, any, argmax, argmin, count_nonzero,  # noqa: F401
                                      cumulative_prod, cumulative_sum, max, mean, min, prod, std,
                                      sum, var, where)

import sys as _sys

_array._ns = _sys.modules[__name__]
