from django.urls import path

from tenancy.pages import access, members

urlpatterns = [
    path("login/", access.SignInView.as_view(), name="login"),
    path("logout/", access.sign_out, name="logout"),
    path("organizations/choose/", access.choose_organization, name="choose-organization"),
    # No secret in the path: the link carries it after `#` (tenancy.pages.access.accept_invitation).
    path("invitations/accept", access.accept_invitation, name="accept-invitation"),
    path("members/", members.members, name="members"),
    path("members/<uuid:member_id>", members.member_update, name="member-update"),
    path("invitations/<uuid:invitation_id>/revoke", members.invitation_revoke, name="invitation-revoke"),
    path("tokens/", members.tokens, name="tokens"),
    path("tokens/<uuid:token_id>/revoke", members.token_revoke, name="token-revoke"),
    path("organization/settings", members.organization_settings, name="organization-settings"),
]
