from django.urls import path

from flotilla.exchange import views

app_name = "exchange"
urlpatterns = [
    path("c/<slug:slug>/aid", views.board, name="board"),
    path("c/<slug:slug>/aid/ask", views.new_request, name="new_request"),
    path("c/<slug:slug>/aid/offer", views.new_offer, name="new_offer"),
    path("c/<slug:slug>/aid/ledger", views.ledger, name="ledger"),
    path("c/<slug:slug>/aid/ledger.csv", views.ledger_csv, name="ledger_csv"),
    path("aid/mine", views.mine, name="mine"),
    # The actions' notifications link to these two paths: keep them.
    path("aid/requests/<int:pk>", views.request_page, name="request"),
    path("aid/requests/<int:pk>/offer", views.offer_help, name="offer_help"),
    path("aid/requests/<int:pk>/widen", views.widen, name="widen"),
    path("aid/offers/<int:pk>", views.offer_page, name="offer"),
    path("aid/offers/<int:pk>/commit", views.commit, name="commit"),
    path("aid/<str:thing>/<int:pk>/move", views.move, name="move"),
]
