#!/bin/sh
# azd postdeploy hook (azure.yaml): subscribes the approve function to the events of each target resource
# group (infra/eventgrid.bicep). It runs after the code is deployed because the webhook URL carries the
# Function App's eventgrid_extension system key, which the host creates when it loads the Event Grid trigger.
# azd runs hooks with the environment's values (main.bicep's outputs among them) in the environment.
set -eu

if [ -z "${TARGET_RESOURCE_GROUPS:-}" ]; then
  echo "TARGET_RESOURCE_GROUPS is empty: no Event Grid subscription to create."
  exit 0
fi

attempts=20
key=""
while :; do
  key=$(az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query "systemKeys.eventgrid_extension" --output tsv 2>/dev/null || true)
  [ -n "$key" ] && break
  attempts=$((attempts - 1))
  if [ "$attempts" -eq 0 ]; then
    echo "The Function App has no eventgrid_extension system key yet; run 'azd hooks run postdeploy' later." >&2
    exit 1
  fi
  echo "Waiting for the Functions host to create the eventgrid_extension key..."
  sleep 15
done

# The key goes into a parameters file readable by this user only, never onto a command line that ps shows.
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
cat > "$workdir/key.parameters.json" <<JSON
{
  "\$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "eventGridExtensionKey": {
      "value": "$key"
    }
  }
}
JSON

az deployment sub create \
  --name "eventgrid-$AZURE_ENV_NAME" \
  --location "$AZURE_LOCATION" \
  --template-file "$(dirname "$0")/../eventgrid.bicep" \
  --parameters "@$workdir/key.parameters.json" \
  --parameters targetResourceGroups="$TARGET_RESOURCE_GROUPS" \
    appResourceGroup="$AZURE_RESOURCE_GROUP" \
    functionAppHostName="$AZURE_FUNCTION_APP_HOSTNAME" \
    storageAccountName="$AZURE_STORAGE_ACCOUNT_NAME" \
    deadLetterContainerName="$EVENTGRID_DEADLETTER_CONTAINER" \
  --output none
echo "Event Grid: approve subscribed to the Private Link Services of: $TARGET_RESOURCE_GROUPS"
