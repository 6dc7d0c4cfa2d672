from django.urls import path

from projects import views

urlpatterns = [
    path("files/<str:token>", views.object_download, name="object-download"),
]
