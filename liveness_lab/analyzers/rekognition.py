"""Amazon Rekognition ``DetectFaces`` as a face analyzer.

:class:`RekognitionAnalyzer` sends an image (bytes, a numpy array or an S3
object) to ``DetectFaces`` with ``Attributes=["ALL"]`` and returns
:class:`~liveness_lab.faces.FaceDetail` objects. The response is converted by
one pure function, :func:`parse_detect_faces_response`, which needs no boto3
and is tested on saved JSON.

boto3 is imported only when a default client is built (never at import
time), and any client can be injected instead, e.g. a real client wrapped in
:class:`botocore.stub.Stubber` for tests::

    analyzer = RekognitionAnalyzer(region_name="eu-west-1")
    faces = analyzer.analyze(open("frame.jpg", "rb").read())

Errors never leave as a raw ``botocore`` exception; they are translated into
the project's exceptions (:mod:`liveness_lab.errors`):

- ``ThrottlingException``, ``ProvisionedThroughputExceededException``,
  ``LimitExceededException``: retried (on top of botocore's adaptive
  retries) with capped exponential backoff and jitter, then
  :class:`~liveness_lab.errors.ThrottlingError`;
- ``InvalidImageFormatException``, ``ImageTooLargeException``,
  ``InvalidParameterException``: :class:`~liveness_lab.errors.InvalidImageError`;
- ``InvalidS3ObjectException``: :class:`~liveness_lab.errors.InvalidS3ObjectError`;
- ``AccessDeniedException``, bad or missing credentials, no region, an
  unreachable endpoint: :class:`~liveness_lab.errors.AnalyzerUnavailableError`;
- anything else: :class:`~liveness_lab.errors.AnalyzerError`.
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..errors import (AnalyzerError, AnalyzerUnavailableError, FaceFormatError, InvalidImageError,
                      InvalidS3ObjectError, ThrottlingError)
from ..evidence import Evidence
from ..faces import FaceDetail, faces_from_rekognition
from .base import FaceAnalyzer, ImageInput

__all__ = [
    "RekognitionAnalyzer",
    "parse_detect_faces_response",
    "parse_compare_faces_response",
    "make_rekognition_client",
    "image_to_bytes",
    "THROTTLING_CODES",
]

#: Error codes that mean "slow down"; retried by the analyzer on top of botocore's retries.
THROTTLING_CODES = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException",
                              "LimitExceededException"})
#: Error codes that mean the image itself was refused.
INVALID_IMAGE_CODES = frozenset({"InvalidImageFormatException", "ImageTooLargeException",
                                 "InvalidParameterException"})
#: Error codes that mean the caller's identity may not use the service.
UNAVAILABLE_CODES = frozenset({"AccessDeniedException", "AccessDenied",
                               "UnrecognizedClientException", "InvalidSignatureException",
                               "SignatureDoesNotMatch", "IncompleteSignature",
                               "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken",
                               "MissingAuthenticationToken", "MissingAuthenticationTokenException"})
S3_OBJECT_CODES = frozenset({"InvalidS3ObjectException"})

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SERVICE = "Rekognition"
_OPERATIONS = {"detect_faces": "DetectFaces", "compare_faces": "CompareFaces"}


# -- pure conversions ------------------------------------------------------------------------

def parse_detect_faces_response(response: Mapping[str, Any]) -> list[FaceDetail]:
    """The faces of a ``DetectFaces`` response, in the order Rekognition gave them.

    Parameters
    ----------
    response:
        The parsed response (a dict, as boto3 returns it or as read from
        saved JSON). ``ResponseMetadata`` and ``OrientationCorrection`` are
        ignored.

    Returns
    -------
    list of FaceDetail
        Empty when no face was detected.

    Raises
    ------
    FaceFormatError
        When the response has no ``FaceDetails`` list or a face is malformed
        (the message names the index of the face and the field).
    """
    if not isinstance(response, Mapping):
        raise FaceFormatError(
            f"a DetectFaces response must be a JSON object, got {type(response).__name__}")
    if "FaceDetails" not in response:
        raise FaceFormatError("the DetectFaces response has no 'FaceDetails' list")
    details = response["FaceDetails"]
    if not isinstance(details, (list, tuple)):
        raise FaceFormatError(
            f"DetectFaces 'FaceDetails' must be a list, got {type(details).__name__}")
    return list(faces_from_rekognition(details))


def parse_compare_faces_response(response: Mapping[str, Any]) -> float | None:
    """The best similarity (0..100) among the ``FaceMatches`` of a ``CompareFaces`` response.

    ``None`` when no face of the target image matched the source face above
    the request's ``SimilarityThreshold`` (``FaceMatches`` empty or absent).
    """
    if not isinstance(response, Mapping):
        raise FaceFormatError(
            f"a CompareFaces response must be a JSON object, got {type(response).__name__}")
    matches = response.get("FaceMatches") or []
    best: float | None = None
    for i, match in enumerate(matches):
        similarity = match.get("Similarity") if isinstance(match, Mapping) else None
        if isinstance(similarity, bool) or not isinstance(similarity, (int, float)):
            raise FaceFormatError(f"CompareFaces FaceMatches[{i}] has no numeric 'Similarity'")
        if best is None or similarity > best:
            best = float(similarity)
    return best


def image_to_bytes(image: ImageInput, *, jpeg_quality: int = 95) -> bytes:
    """The bytes to send to Rekognition for ``image``.

    JPEG and PNG bytes are passed through (after a check of their signature,
    since Rekognition accepts no other format). A ``uint8`` array of shape
    ``(H, W, 3)`` in RGB order, or ``(H, W)`` grayscale, is encoded to JPEG
    with OpenCV at ``jpeg_quality`` (1..100).

    Raises
    ------
    InvalidImageError
        For empty bytes, bytes that are neither JPEG nor PNG, or an array of
        the wrong dtype or shape.
    """
    if isinstance(image, np.ndarray):
        return _encode_jpeg(image, jpeg_quality)
    if not isinstance(image, (bytes, bytearray, memoryview)):
        raise InvalidImageError(
            "an image must be JPEG/PNG bytes or a uint8 numpy array, "
            f"got {type(image).__name__}")
    data = bytes(image)
    if not data:
        raise InvalidImageError("the image is empty (0 bytes)")
    if not (data.startswith(_JPEG_MAGIC) or data.startswith(_PNG_MAGIC)):
        raise InvalidImageError(
            f"Rekognition accepts only JPEG or PNG images; these {len(data)} bytes start with "
            f"{data[:8]!r}")
    return data


def _encode_jpeg(array: np.ndarray, quality: int) -> bytes:
    if array.dtype != np.uint8:
        raise InvalidImageError(f"an image array must have dtype uint8, got {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise InvalidImageError(
            f"an image array must have shape (H, W, 3) RGB or (H, W) grayscale, "
            f"got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidImageError(f"an image array must not be empty, got shape {array.shape}")
    import cv2  # heavy: only when an array has to be encoded

    bgr = array[:, :, ::-1] if array.ndim == 3 else array
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr),
                           [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise InvalidImageError(f"OpenCV could not encode an array of shape {array.shape} as JPEG")
    return buf.tobytes()


def make_rekognition_client(region_name: str | None = None, *, max_attempts: int = 4,
                            max_pool_connections: int = 10) -> Any:
    """A new boto3 Rekognition client with botocore's adaptive retry mode.

    ``max_attempts`` is botocore's ``retries={"max_attempts": ...}``: the
    number of *retries* after the first call (botocore reports it as
    ``total_max_attempts = max_attempts + 1``). ``max_pool_connections`` should be
    at least the number of threads sharing the client. Credentials and the
    region (when ``region_name`` is ``None``) come from the usual boto3 chain.
    A fresh :class:`boto3.session.Session` is used, because the default one
    is not thread-safe.
    """
    import boto3  # lazy: never at module import
    from botocore.config import Config

    config = Config(retries={"mode": "adaptive", "max_attempts": int(max_attempts)},
                    max_pool_connections=int(max_pool_connections))
    return boto3.session.Session().client("rekognition", region_name=region_name, config=config)


# -- error translation ------------------------------------------------------------------------

def _client_error_parts(error: Exception) -> tuple[str, str]:
    response = getattr(error, "response", None) or {}
    err = response.get("Error") or {}
    return str(err.get("Code") or "Unknown"), str(err.get("Message") or "").strip()


def _translate(error: Exception, operation: str, *, attempts: int = 1,
               s3_object: str | None = None) -> Exception:
    """The project exception for a botocore exception raised by ``operation``."""
    from botocore import exceptions as bx

    op = _OPERATIONS.get(operation, operation)
    if isinstance(error, bx.ClientError):
        code, message = _client_error_parts(error)
        detail = f"{code}: {message}" if message else code
        if code in THROTTLING_CODES:
            return ThrottlingError(
                f"{_SERVICE} {op} kept throttling after {attempts} attempts ({detail}); "
                "lower max_workers or ask AWS for a higher TPS quota")
        if code in S3_OBJECT_CODES:
            where = f" {s3_object}" if s3_object else ""
            return InvalidS3ObjectError(
                f"{_SERVICE} {op} could not read the S3 object{where} ({detail}); check that it "
                "exists, is in the same region as Rekognition and that Rekognition may read it")
        if code in INVALID_IMAGE_CODES:
            return InvalidImageError(f"{_SERVICE} {op} rejected the image ({detail})")
        if code in UNAVAILABLE_CODES:
            return AnalyzerUnavailableError(
                f"{_SERVICE} {op} refused these AWS credentials ({detail}); check the IAM "
                f"permission rekognition:{op} and the credentials in use")
        return AnalyzerError(f"{_SERVICE} {op} failed ({detail})")
    if isinstance(error, (bx.NoCredentialsError, bx.PartialCredentialsError,
                          bx.CredentialRetrievalError, bx.ProfileNotFound)):
        return AnalyzerUnavailableError(
            f"{_SERVICE} is unavailable: {error} (configure AWS credentials, e.g. AWS_PROFILE "
            "or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or use the local analyzer)")
    if isinstance(error, bx.NoRegionError):
        return AnalyzerUnavailableError(
            f"{_SERVICE} is unavailable: {error} (pass region_name or set AWS_DEFAULT_REGION)")
    if isinstance(error, (bx.EndpointConnectionError, bx.ConnectionClosedError,
                          bx.ConnectTimeoutError, bx.UnknownEndpointError)):
        return AnalyzerUnavailableError(f"{_SERVICE} {op}: cannot reach the service: {error}")
    if isinstance(error, bx.InvalidRegionError):
        return AnalyzerUnavailableError(f"{_SERVICE} is unavailable: {error}")
    if isinstance(error, bx.ParamValidationError):
        return InvalidImageError(f"{_SERVICE} {op}: invalid request: {error}")
    return AnalyzerError(f"{_SERVICE} {op} failed: {type(error).__name__}: {error}")


# -- the analyzer -----------------------------------------------------------------------------

def _positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


class RekognitionAnalyzer(FaceAnalyzer):
    """Face analysis by Amazon Rekognition ``DetectFaces``.

    Parameters
    ----------
    client:
        A boto3 Rekognition client. When ``None``, one is built on first use
        with :func:`make_rekognition_client` (adaptive retries).
    region_name:
        AWS region of the default client (``None``: boto3's usual lookup).
        Ignored when ``client`` is given (the client's own region is used).
    max_workers:
        Threads used by :meth:`analyze_batch` (the original framework used 10).
    max_attempts:
        botocore's ``retries["max_attempts"]`` for the default client: retries
        after the first call, adaptive mode (client-side rate limiting).
    attributes:
        ``DetectFaces`` ``Attributes``; ``("ALL",)`` gives every field the
        challenge types may need.
    throttle_retries:
        How many more times a throttled call is retried by this class after
        botocore gave up, before :class:`~liveness_lab.errors.ThrottlingError`.
    backoff_base, backoff_cap:
        Seconds. Before retry ``n`` (0-based) the analyzer sleeps a random time
        in ``[d / 2, d]`` with ``d = min(backoff_cap, backoff_base * 2 ** n)``.
    jpeg_quality:
        JPEG quality (1..100) used to encode numpy array images.
    sleep:
        Function called with the delay in seconds (tests pass a recorder).
    rng:
        Source of the backoff jitter (default: a new :class:`random.Random`).
    """

    name = "rekognition"
    provides = frozenset({Evidence.GEOMETRY, Evidence.ATTRIBUTES, Evidence.EYE_DIRECTION})

    def __init__(self, client: Any = None, *, region_name: str | None = None,
                 max_workers: int = 10, max_attempts: int = 4,
                 attributes: Sequence[str] = ("ALL",), throttle_retries: int = 4,
                 backoff_base: float = 0.25, backoff_cap: float = 8.0, jpeg_quality: int = 95,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.max_workers = _positive_int(max_workers, "max_workers")
        self.max_attempts = _positive_int(max_attempts, "max_attempts", 0)
        self.throttle_retries = _positive_int(throttle_retries, "throttle_retries", 0)
        if isinstance(attributes, str):
            raise ValueError(f"attributes must be a sequence of names such as ('ALL',), "
                             f"got the string {attributes!r}")
        attributes = tuple(attributes)
        if not attributes or not all(isinstance(a, str) and a for a in attributes):
            raise ValueError(f"attributes must be non-empty names such as 'ALL' or 'DEFAULT', "
                             f"got {attributes!r}")
        self.attributes = attributes
        for what, value in (("backoff_base", backoff_base), ("backoff_cap", backoff_cap)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{what} must be a number of seconds >= 0, got {value!r}")
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        if (isinstance(jpeg_quality, bool) or not isinstance(jpeg_quality, int)
                or not 1 <= jpeg_quality <= 100):
            raise ValueError(f"jpeg_quality must be an integer in 1..100, got {jpeg_quality!r}")
        self.jpeg_quality = jpeg_quality
        if region_name is not None and (not isinstance(region_name, str) or not region_name):
            raise ValueError(f"region_name must be a region such as 'us-east-1', "
                             f"got {region_name!r}")
        self._region_name = region_name
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()

    # -- client -----------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The Rekognition client (built on first access when none was injected)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> Any:
        try:
            from botocore.exceptions import BotoCoreError
        except ImportError as e:
            raise AnalyzerUnavailableError(f"the rekognition analyzer needs boto3: {e}") from e
        try:
            return make_rekognition_client(self._region_name, max_attempts=self.max_attempts,
                                           max_pool_connections=max(10, self.max_workers))
        except BotoCoreError as e:  # NoRegionError, ProfileNotFound, InvalidRegionError...
            raise _translate(e, "client") from e

    @property
    def region(self) -> str | None:
        """The AWS region the analyzer calls."""
        meta = getattr(self.client, "meta", None)
        return getattr(meta, "region_name", None) or self._region_name

    def config_fingerprint(self) -> str:
        """Attributes, region and array-encoding quality; never credentials."""
        return json.dumps({"api": "DetectFaces", "attributes": list(self.attributes),
                           "region": self.region, "jpeg_quality": self.jpeg_quality},
                          sort_keys=True, separators=(",", ":"))

    def close(self) -> None:
        """Close the client if this analyzer built it. Safe to call twice."""
        if not self._owns_client:
            return
        with self._lock:
            client, self._client = self._client, None
        if client is not None and hasattr(client, "close"):
            client.close()

    # -- calls ------------------------------------------------------------------------------
    def _backoff(self, retry: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2.0 ** retry))
        return self._rng.uniform(ceiling / 2.0, ceiling)

    def _call(self, operation: str, params: Mapping[str, Any], *,
              s3_object: str | None = None) -> Mapping[str, Any]:
        """Call ``operation`` with throttling retries; translate every botocore error."""
        from botocore import exceptions as bx

        client = self.client
        retry = 0
        while True:
            try:
                return getattr(client, operation)(**params)
            except bx.ClientError as e:
                code, _ = _client_error_parts(e)
                if code in THROTTLING_CODES and retry < self.throttle_retries:
                    self._sleep(self._backoff(retry))
                    retry += 1
                    continue
                raise _translate(e, operation, attempts=retry + 1, s3_object=s3_object) from e
            except bx.BotoCoreError as e:
                raise _translate(e, operation, s3_object=s3_object) from e

    def _detect(self, image_param: Mapping[str, Any], *, s3_object: str | None = None
                ) -> list[FaceDetail]:
        response = self._call("detect_faces",
                              {"Image": image_param, "Attributes": list(self.attributes)},
                              s3_object=s3_object)
        try:
            return parse_detect_faces_response(response)
        except FaceFormatError as e:
            raise AnalyzerError(f"{_SERVICE} DetectFaces returned an unexpected response: {e}"
                                ) from e

    def analyze(self, image: ImageInput) -> list[FaceDetail]:
        """Detect the faces in JPEG/PNG bytes or a uint8 RGB array; ``[]`` when there is none."""
        data = image_to_bytes(image, jpeg_quality=self.jpeg_quality)
        return self._detect({"Bytes": data})

    def analyze_s3(self, bucket: str, key: str, *, version: str | None = None
                   ) -> list[FaceDetail]:
        """Detect the faces in an image stored in S3 (read by Rekognition itself).

        The object must be in the same region as the analyzer. Raises
        :class:`~liveness_lab.errors.InvalidS3ObjectError` when Rekognition
        cannot read it.
        """
        for what, value in (("bucket", bucket), ("key", key)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"S3 {what} must be a non-empty string, got {value!r}")
        s3_object: dict[str, str] = {"Bucket": bucket, "Name": key}
        if version is not None:
            if not isinstance(version, str) or not version:
                raise ValueError(f"S3 version must be a non-empty string or None, got {version!r}")
            s3_object["Version"] = version
        where = f"s3://{bucket}/{key}" + (f" (version {version})" if version else "")
        return self._detect({"S3Object": s3_object}, s3_object=where)

    def analyze_batch(self, images: Sequence[ImageInput] | Iterable[ImageInput]
                      ) -> list[list[FaceDetail]]:
        """Analyze several images in a pool of at most ``max_workers`` threads.

        Results are in input order. When an image fails, the images not yet
        started are cancelled, the calls already running are allowed to
        finish (their results are discarded), and the error of the failed
        image with the lowest index is raised, its message prefixed with
        that index.
        """
        items = list(images)
        if not items:
            return []
        pool = ThreadPoolExecutor(max_workers=min(self.max_workers, len(items)),
                                  thread_name_prefix="rekognition")
        try:
            futures = [pool.submit(self.analyze, item) for item in items]
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:
            # after an error (or an interrupt): drop the images not started yet and
            # wait for the calls already running
            pool.shutdown(wait=True, cancel_futures=True)
        for index, future in enumerate(futures):
            if future.cancelled():
                continue
            error = future.exception()
            if error is None:
                continue
            if type(error) in (AnalyzerError, InvalidImageError, AnalyzerUnavailableError,
                               ThrottlingError, InvalidS3ObjectError):
                raise type(error)(f"batch image {index}: {error}") from error
            raise error
        return [future.result() for future in futures]

    def compare_faces(self, source_image: ImageInput, target_image: ImageInput,
                      similarity_threshold: float = 80.0) -> float | None:
        """Similarity (0..100) of the largest face of ``source_image`` in ``target_image``.

        Uses Rekognition ``CompareFaces``. Returns the best similarity among
        the target faces that match at ``similarity_threshold`` or above, or
        ``None`` when none does (including when the target holds no face).
        A source image without a face is rejected by AWS with
        ``InvalidParameterException``, raised as
        :class:`~liveness_lab.errors.InvalidImageError`.
        """
        if (isinstance(similarity_threshold, bool)
                or not isinstance(similarity_threshold, (int, float))
                or not 0 <= similarity_threshold <= 100):
            raise ValueError(f"similarity_threshold must be a number in 0..100, "
                             f"got {similarity_threshold!r}")
        params = {
            "SourceImage": {"Bytes": image_to_bytes(source_image, jpeg_quality=self.jpeg_quality)},
            "TargetImage": {"Bytes": image_to_bytes(target_image, jpeg_quality=self.jpeg_quality)},
            "SimilarityThreshold": float(similarity_threshold),
        }
        response = self._call("compare_faces", params)
        try:
            return parse_compare_faces_response(response)
        except FaceFormatError as e:
            raise AnalyzerError(f"{_SERVICE} CompareFaces returned an unexpected response: {e}"
                                ) from e

    def __repr__(self) -> str:
        region = self._region_name if self._client is None else self.region
        return (f"RekognitionAnalyzer(region={region!r}, attributes={self.attributes!r}, "
                f"max_workers={self.max_workers})")
