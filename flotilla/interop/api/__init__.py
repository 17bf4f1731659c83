"""The interoperability API: one router per standard, put together for the API root."""

from ninja import Router

from flotilla.interop.api.edxl import router as edxl_router
from flotilla.interop.api.saner import router as saner_router

router = Router()
router.add_router("", saner_router)
router.add_router("", edxl_router)
