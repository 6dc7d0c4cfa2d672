"""Bearer-token resolution in one database round trip.

The function runs with the caller's rights (SECURITY INVOKER), so row-level security applies inside it exactly as
to the statements it replaces: the token row is visible only through the digest setting, the member row only once
the tenant setting names the token's organization. Both settings are put back before it returns. Being PL/pgSQL,
its statements keep their plans for the life of the connection, so a request pays for neither the planning nor
the round trips and savepoints of running them one by one.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION tenancy_api_token_resolve(digest text)
RETURNS TABLE (
    token tenancy_apitoken,
    membership tenancy_membership,
    member_user tenancy_user,
    organization tenancy_organization
)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    previous_organization text := coalesce(current_setting('app.organization_id', true), '');
    found_token tenancy_apitoken;
BEGIN
    PERFORM set_config('app.token_hash', digest, true);
    SELECT * INTO found_token FROM tenancy_apitoken t WHERE t.key_hash = digest;
    PERFORM set_config('app.token_hash', '', true);
    IF found_token.id IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('app.organization_id', found_token.organization_id::text, true);
    RETURN QUERY
        SELECT found_token, m, u, o
        FROM tenancy_membership m
        JOIN tenancy_user u ON u.id = m.user_id
        JOIN tenancy_organization o ON o.id = m.organization_id
        WHERE m.id = found_token.membership_id;
    PERFORM set_config('app.organization_id', previous_organization, true);
END
$$
"""
BACKWARD = "DROP FUNCTION IF EXISTS tenancy_api_token_resolve(text)"


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0004_row_level_security")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
