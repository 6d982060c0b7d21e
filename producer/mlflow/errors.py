"""Tracklog's refusals as MLflow's: the error codes MLflow's own stores raise.

MLflow's client keys on them (``set_experiment`` retries on RESOURCE_ALREADY_EXISTS,
``register_model`` goes on past it) and its server turns them into HTTP statuses
(RESOURCE_DOES_NOT_EXIST 404, INVALID_PARAMETER_VALUE 400, TEMPORARILY_UNAVAILABLE 503,
REQUEST_LIMIT_EXCEEDED 429, which MLflow's REST client retries).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2 as codes

from tracklog.client.errors import TracklogError
from tracklog.registry.errors import RegistryError
from tracklog.sending.batcher import BufferFullError

P = ParamSpec("P")
R = TypeVar("R")

BY_GRPC_CODE = {
    "NOT_FOUND": codes.RESOURCE_DOES_NOT_EXIST,
    "ALREADY_EXISTS": codes.RESOURCE_ALREADY_EXISTS,
    "INVALID_ARGUMENT": codes.INVALID_PARAMETER_VALUE,
    "FAILED_PRECONDITION": codes.INVALID_STATE,
    "OUT_OF_RANGE": codes.INVALID_PARAMETER_VALUE,
    "UNAVAILABLE": codes.TEMPORARILY_UNAVAILABLE,
    "DEADLINE_EXCEEDED": codes.TEMPORARILY_UNAVAILABLE,
    "RESOURCE_EXHAUSTED": codes.REQUEST_LIMIT_EXCEEDED,
    "PERMISSION_DENIED": codes.PERMISSION_DENIED,
    "UNAUTHENTICATED": codes.UNAUTHENTICATED,
}


def not_found(message: str) -> MlflowException:
    return MlflowException(message, error_code=codes.RESOURCE_DOES_NOT_EXIST)


def invalid(message: str) -> MlflowException:
    return MlflowException(message, error_code=codes.INVALID_PARAMETER_VALUE)


def unsupported(what: str) -> MlflowException:
    return MlflowException(
        f"{what} is not supported by Tracklog's MLflow store", error_code=codes.NOT_IMPLEMENTED
    )


@contextmanager
def as_mlflow() -> Iterator[None]:
    """Re-raise Tracklog's errors as MlflowException with MLflow's code."""
    try:
        yield
    except MlflowException:
        raise
    except (TracklogError, RegistryError) as error:
        code = BY_GRPC_CODE.get(error.code, codes.INTERNAL_ERROR)
        raise MlflowException(str(error), error_code=code) from error
    except BufferFullError as error:
        raise MlflowException(str(error), error_code=codes.REQUEST_LIMIT_EXCEEDED) from error
    except ValueError as error:  # Tracklog's validation: bad input, nothing was sent
        raise invalid(str(error)) from error


def mlflow_errors(method: Callable[P, R]) -> Callable[P, R]:
    """`as_mlflow` around a whole store method."""

    @functools.wraps(method)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with as_mlflow():
            return method(*args, **kwargs)

    return wrapped
