from django.urls import path

from flotilla.interop import views

app_name = "interop"

urlpatterns = [
    path("c/<slug:slug>/export-saner.json", views.collaborative_saner, name="collaborative_saner"),
    path("c/<slug:slug>/export-have.xml", views.collaborative_have, name="collaborative_have"),
    path("aid/requests/<int:pk>/edxl-rm.xml", views.aid_request_edxl_rm, name="aid_request_rm"),
    path("aid/offers/<int:pk>/edxl-rm.xml", views.aid_offer_edxl_rm, name="aid_offer_rm"),
]
