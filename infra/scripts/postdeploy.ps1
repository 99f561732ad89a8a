#!/usr/bin/env pwsh
# azd postdeploy hook on Windows (azure.yaml, `windows`): the same steps as postdeploy.sh, the `posix` hook, which
# says why each is needed (tests/unit/test_infra_hooks.py keeps the two in step). It subscribes the approve function
# to the events of each target resource group (infra/eventgrid.bicep) once the Functions host has created the
# eventgrid_extension system key. azd runs hooks with the environment's values (main.bicep's outputs among them) in
# the environment.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

if ([string]::IsNullOrWhiteSpace($env:TARGET_RESOURCE_GROUPS)) {
  Write-Output 'TARGET_RESOURCE_GROUPS is empty: no Event Grid subscription to create.'
  exit 0
}

$attempts = 20
$key = ''
while ($true) {
  $key = az functionapp keys list --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME `
    --query 'systemKeys.eventgrid_extension' --output tsv 2>$null
  if ($LASTEXITCODE -eq 0 -and -not [string]::IsNullOrWhiteSpace($key)) {
    $key = "$key".Trim()
    break
  }
  $attempts -= 1
  if ($attempts -eq 0) {
    [Console]::Error.WriteLine("The Function App has no eventgrid_extension system key yet; run 'azd hooks run postdeploy' later.")
    exit 1
  }
  Write-Output 'Waiting for the Functions host to create the eventgrid_extension key...'
  Start-Sleep -Seconds 15
}

# The key goes into a parameters file in this user's own temporary folder, never onto a command line that other
# users' process listings show.
$workdir = Join-Path ([System.IO.Path]::GetTempPath()) ([System.IO.Path]::GetRandomFileName())
New-Item -ItemType Directory -Path $workdir | Out-Null
try {
  $keyParameters = Join-Path $workdir 'key.parameters.json'
  $document = [ordered]@{
    '$schema'      = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#'
    contentVersion = '1.0.0.0'
    parameters     = [ordered]@{
      eventGridExtensionKey = [ordered]@{
        value = $key
      }
    }
  }
  [System.IO.File]::WriteAllText($keyParameters, ($document | ConvertTo-Json -Depth 5))

  az deployment sub create `
    --name "eventgrid-$env:AZURE_ENV_NAME" `
    --location $env:AZURE_LOCATION `
    --template-file "$PSScriptRoot/../eventgrid.bicep" `
    --parameters "@$keyParameters" `
    --parameters targetResourceGroups="$env:TARGET_RESOURCE_GROUPS" `
      appResourceGroup="$env:AZURE_RESOURCE_GROUP" `
      functionAppHostName="$env:AZURE_FUNCTION_APP_HOSTNAME" `
      storageAccountName="$env:AZURE_STORAGE_ACCOUNT_NAME" `
      deadLetterContainerName="$env:EVENTGRID_DEADLETTER_CONTAINER" `
    --output none
  if ($LASTEXITCODE -ne 0) {
    exit $LASTEXITCODE
  }
}
finally {
  Remove-Item -Recurse -Force $workdir
}
Write-Output "Event Grid: approve subscribed to the Private Link Services of: $env:TARGET_RESOURCE_GROUPS"
