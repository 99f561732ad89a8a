#!/bin/sh
# Stores the value of one secret app setting in the environment's Key Vault and makes the Function App
# re-read its Key Vault references. The value is read from standard input, never from the command line:
#
#   infra/scripts/set-secret.sh EMQX_PLATFORM_API_SECRET < platform-secret.txt
#   printf '%s' "$REDIS_PASSWORD" | infra/scripts/set-secret.sh REDIS_PASSWORD_ORDERS
#
# The setting must be EMQX_PLATFORM_API_SECRET or one of LINK_SECRET_SETTINGS (azd env set, then azd provision):
# only those have an app setting that references the secret. Its secret is the setting's name in lower case
# with '-' for '_' (Key Vault secret names allow letters, digits and dashes), as in function-app.bicep.
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 APP_SETTING_NAME < value" >&2
  exit 2
fi
setting=$1

if [ -z "${AZURE_KEY_VAULT_NAME:-}" ]; then
  eval "$(azd env get-values)"
fi

known=",EMQX_PLATFORM_API_SECRET,${LINK_SECRET_SETTINGS:-},"
case "$known" in
  *",$setting,"*) ;;
  *)
    echo "$setting is neither EMQX_PLATFORM_API_SECRET nor in LINK_SECRET_SETTINGS (${LINK_SECRET_SETTINGS:-})." >&2
    exit 2
    ;;
esac
secret=$(printf '%s' "$setting" | tr 'A-Z_' 'a-z-')

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
# $(cat) drops the trailing newline that `echo value |` would add to the secret.
value=$(cat)
printf '%s' "$value" > "$workdir/value"
if ! az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$secret" --file "$workdir/value" \
  --encoding utf-8 --output none; then
  if [ "${VNET_ENABLED:-false}" = true ]; then
    echo "The vault takes no public traffic (VNET_ENABLED): run this from a network that reaches its private endpoint." >&2
  fi
  exit 1
fi

site=$(az functionapp show --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" --query id --output tsv)
# The Resource Manager endpoint of the cloud the CLI is signed in to (`az cloud set`): the CLI's cloud metadata, which
# it reads from ARM's /metadata/endpoints (https://management.usgovcloudapi.net/ in Azure Government,
# https://management.chinacloudapi.cn/ in Azure China).
arm=$(az cloud show --query endpoints.resourceManager --output tsv)
az rest --method post --output none \
  --url "${arm%/}$site/config/configreferences/appsettings/refresh?api-version=2022-03-01"
echo "$setting stored as Key Vault secret $secret; the Function App re-reads its Key Vault references."
