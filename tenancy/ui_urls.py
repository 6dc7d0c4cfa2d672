from django.urls import path

from tenancy import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("organizations/choose/", views.choose_organization, name="choose-organization"),
    path("invitations/accept/<str:key>", views.accept_invitation, name="accept-invitation"),
]
