from django.urls import path

from tenancy import views, views_admin

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("organizations/choose/", views.choose_organization, name="choose-organization"),
    # No secret in the path: the link carries it after `#` (tenancy.views.accept_invitation).
    path("invitations/accept", views.accept_invitation, name="accept-invitation"),
    path("members/", views_admin.members, name="members"),
    path("members/<uuid:member_id>", views_admin.member_update, name="member-update"),
    path("invitations/<uuid:invitation_id>/revoke", views_admin.invitation_revoke, name="invitation-revoke"),
    path("tokens/", views_admin.tokens, name="tokens"),
    path("tokens/<uuid:token_id>/revoke", views_admin.token_revoke, name="token-revoke"),
    path("organization/settings", views_admin.organization_settings, name="organization-settings"),
]
