from flotilla.interop import have
from flotilla.interop.management.exporting import ExportCommand


class Command(ExportCommand):
    name = "export-edxl-have"
    help = (
        "Write an EDXL-HAVE 2.0 hospital status document (XML) of a collaborative's members or "
        "of one organisation, exactly as the organisation named by --as may see it under the "
        "sharing grants in force, put on the access record of every organisation read."
    )

    def document(self, viewer, organisations, collaborative):
        if collaborative is not None:
            return have.for_collaborative(viewer, collaborative)
        return have.for_organisation(viewer, organisations[0])
