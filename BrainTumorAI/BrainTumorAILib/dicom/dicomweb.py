"""A DICOMweb server (QIDO-RS search, WADO-RS retrieve, STOW-RS store) through `dicomweb-client`,
with every failure turned into one line that names the server and what went wrong."""

from __future__ import annotations

import contextlib

import requests

from ..errors import InputError

TIMEOUT_S = (5, 120)  # connect, read


class DicomWebError(InputError):
    """The server could not be reached, refused, or answered with something that is not DICOM."""


class DicomWebServer:
    def __init__(self, url: str):
        from dicomweb_client.api import DICOMwebClient

        self.url = url.rstrip("/")
        self.client = DICOMwebClient(url=self.url, timeout=TIMEOUT_S)
        # a refusing server (503) answers at once; the client's default retries would wait ~30 s
        self.client.set_http_retry_params(retry=False)

    def series_of_study(self, study_uid: str) -> list[dict]:
        """The study's series: [{"uid", "modality", "description", "protocol", "images"}, ...]."""
        with self._errors(f"searching study {study_uid}"):
            found = self.client.search_for_series(
                study_instance_uid=study_uid,
                fields=["SeriesDescription", "ProtocolName", "Modality", "NumberOfSeriesRelatedInstances"])
        return [{"uid": _value(item, "0020000E"), "modality": _value(item, "00080060"),
                 "description": _value(item, "0008103E"), "protocol": _value(item, "00181030"),
                 "images": _value(item, "00201209")} for item in found]

    def retrieve_series(self, study_uid: str, series_uid: str) -> list:
        """Every instance of the series as pydicom datasets (with pixel data)."""
        with self._errors(f"retrieving series {series_uid}"):
            return self.client.retrieve_series(study_instance_uid=study_uid, series_instance_uid=series_uid)

    def store(self, datasets: list) -> None:
        """Store instances (STOW-RS); refuses if the server reports any instance as failed."""
        with self._errors("storing the results"):
            response = self.client.store_instances(datasets)
        failed = getattr(response, "FailedSOPSequence", None) if response is not None else None
        if failed:
            reasons = sorted({str(getattr(item, "FailureReason", "?")) for item in failed})
            raise DicomWebError(f"DICOMweb server {self.url} refused {len(failed)} of {len(datasets)} objects "
                                f"(failure reason {', '.join(reasons)})")

    @contextlib.contextmanager
    def _errors(self, doing: str):
        try:
            yield
        except requests.exceptions.ConnectionError:
            raise DicomWebError(f"DICOMweb server {self.url} cannot be reached ({doing}): connection refused "
                                f"or host unknown") from None
        except requests.exceptions.Timeout:
            raise DicomWebError(f"DICOMweb server {self.url} did not answer in time ({doing})") from None
        except requests.exceptions.HTTPError as error:
            status = error.response.status_code if error.response is not None else "?"
            reason = error.response.reason if error.response is not None else str(error)
            if status == 404:
                raise DicomWebError(f"DICOMweb server {self.url}: not found ({doing}; wrong URL or UID?)") from None
            raise DicomWebError(f"DICOMweb server {self.url} refused ({doing}): HTTP {status} {reason}") from None
        except requests.exceptions.RequestException as error:
            raise DicomWebError(f"DICOMweb server {self.url}: {type(error).__name__} ({doing})") from None
        except ValueError as error:  # a body that is not DICOM JSON or multipart DICOM
            raise DicomWebError(f"DICOMweb server {self.url} sent an unreadable answer ({doing}): "
                                f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None


def _value(item: dict, tag: str):
    """The first value of a DICOM JSON attribute, or "" when absent."""
    values = item.get(tag, {}).get("Value") or [""]
    value = values[0]
    return value.get("Alphabetic", "") if isinstance(value, dict) else value
