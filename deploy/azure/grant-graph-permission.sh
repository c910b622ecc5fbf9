#!/usr/bin/env bash
# Grant the Microsoft Graph application permission licensefix needs to the
# worker's managed identity (its service principal).
#
# Usage:
#   deploy/azure/grant-graph-permission.sh <worker-principal-id> [beta|v1]
#
#   <worker-principal-id>  object id of the managed identity's service
#                          principal: the Bicep output workerPrincipalId.
#   beta (default)         CloudLicensing.AssignLicenses.Organization, for the
#                          beta reprocessAssignments action (LICENSEFIX_GRAPH_API=beta).
#   v1                     User.ReadWrite.All, for /v1.0 reprocessLicenseAssignment
#                          (LICENSEFIX_GRAPH_API=v1, and every non-global cloud).
#
# Application permissions are tenant-wide admin consent: run this signed in
# ("az login") as a Privileged Role Administrator or Global Administrator
# (consent to Microsoft Graph application permissions needs one of them). The
# portal has no page to grant app roles to a managed identity.
#
# The app role id is looked up at run time from the Microsoft Graph service
# principal of this tenant (appId 00000003-0000-0000-c000-000000000000, the
# same everywhere), so no role id is hard-coded. Running it twice is harmless:
# an existing assignment is reported and left alone.
#
# Environment:
#   GRAPH_ROOT  Graph endpoint for the REST calls; default: the active az
#               cloud's (az cloud show), e.g. https://graph.microsoft.com
#   AZ          az executable (default: az)
set -euo pipefail

readonly GRAPH_APP_ID=00000003-0000-0000-c000-000000000000

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

die() {
  echo "grant-graph-permission: $*" >&2
  exit 1
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
principal_id=$1
api=${2:-beta}

case "$principal_id" in
  [0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]-*) ;;
  *) echo "grant-graph-permission: '$principal_id' is not an object id (GUID)" >&2; usage ;;
esac

case "$api" in
  beta) permission=CloudLicensing.AssignLicenses.Organization ;;
  v1 | v1.0) permission=User.ReadWrite.All ;;
  *) echo "grant-graph-permission: unknown API '$api' (want beta or v1)" >&2; usage ;;
esac

az=${AZ:-az}
graph_root=${GRAPH_ROOT:-$("$az" cloud show --query endpoints.microsoftGraphResourceId -o tsv)}
graph_root=${graph_root%/}
[ -n "$graph_root" ] || die "could not determine the Graph endpoint; set GRAPH_ROOT"

# The Microsoft Graph service principal of this tenant and the id of the app
# role (application permission) called $permission.
graph_sp_id=$("$az" ad sp show --id "$GRAPH_APP_ID" --query id -o tsv)
[ -n "$graph_sp_id" ] || die "Microsoft Graph service principal not found in this tenant"

app_role_id=$("$az" ad sp show --id "$GRAPH_APP_ID" \
  --query "appRoles[?value=='$permission' && contains(allowedMemberTypes, 'Application')].id | [0]" -o tsv)
[ -n "$app_role_id" ] || die "Microsoft Graph offers no application permission named $permission in this tenant"

# The managed identity must exist as a service principal.
"$az" ad sp show --id "$principal_id" --query id -o tsv >/dev/null ||
  die "no service principal with object id $principal_id (is it the workerPrincipalId output?)"

assignments_url="$graph_root/v1.0/servicePrincipals/$principal_id/appRoleAssignments"

existing=$("$az" rest --method GET --url "$assignments_url" \
  --query "value[?appRoleId=='$app_role_id' && resourceId=='$graph_sp_id'] | length(@)" -o tsv)
if [ "${existing:-0}" != "0" ]; then
  echo "$permission is already granted to $principal_id"
  exit 0
fi

"$az" rest --method POST --url "$assignments_url" \
  --headers "Content-Type=application/json" \
  --body "{\"principalId\":\"$principal_id\",\"resourceId\":\"$graph_sp_id\",\"appRoleId\":\"$app_role_id\"}" \
  --query id -o tsv >/dev/null

echo "granted $permission (app role $app_role_id) on Microsoft Graph to $principal_id"
