from flotilla.interop import saner
from flotilla.interop.management.exporting import ExportCommand


class Command(ExportCommand):
    name = "export-saner"
    help = (
        "Write a FHIR SANER Bundle of MeasureReports (JSON) of a collaborative's members or of "
        "one organisation, exactly as the organisation named by --as may see it under the "
        "sharing grants in force, put on the access record of every organisation read."
    )

    def document(self, viewer, organisations, collaborative):
        return saner.as_json(saner.bundle_for(viewer, organisations)).encode("utf-8")
