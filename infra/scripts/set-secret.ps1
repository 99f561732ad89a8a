#!/usr/bin/env pwsh
# The PowerShell twin of set-secret.sh (same steps; tests/unit/test_infra_hooks.py keeps them in step): stores the
# value of one secret app setting in the environment's Key Vault and makes the Function App re-read its Key Vault
# references. The value comes from the pipeline or standard input, never from the command line:
#
#   Get-Content -Raw platform-secret.txt | infra/scripts/set-secret.ps1 EMQX_PLATFORM_API_SECRET
#   pwsh infra/scripts/set-secret.ps1 REDIS_PASSWORD_ORDERS < redis-password.txt
#
# The setting must be EMQX_PLATFORM_API_SECRET or one of LINK_SECRET_SETTINGS (azd env set, then azd provision):
# only those have an app setting that references the secret. Its secret is the setting's name in lower case with '-'
# for '_' (Key Vault secret names allow letters, digits and dashes), as in function-app.bicep.
param(
  [Parameter(Mandatory = $true, Position = 0)]
  [string] $Setting
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

if ([string]::IsNullOrEmpty($env:AZURE_KEY_VAULT_NAME)) {
  # `azd env get-values` prints NAME="value" lines: the same values the sh script evaluates.
  foreach ($line in (azd env get-values)) {
    if ($line -match '^([A-Za-z_][A-Za-z0-9_]*)="?(.*?)"?$') {
      Set-Item -Path "env:$($Matches[1])" -Value $Matches[2]
    }
  }
}

$linkSecretSettings = if ($env:LINK_SECRET_SETTINGS) { $env:LINK_SECRET_SETTINGS } else { '' }
$known = ",EMQX_PLATFORM_API_SECRET,$linkSecretSettings,"
if (-not $known.Contains(",$Setting,")) {
  [Console]::Error.WriteLine("$Setting is neither EMQX_PLATFORM_API_SECRET nor in LINK_SECRET_SETTINGS ($linkSecretSettings).")
  exit 2
}
$secret = $Setting.ToLowerInvariant().Replace('_', '-')

# As `$(cat)` in the sh script: trailing line breaks are dropped, so `echo value |` does not change the secret.
$value = if ($MyInvocation.ExpectingInput) { ($input | Out-String) } else { [Console]::In.ReadToEnd() }
$value = $value.TrimEnd("`r", "`n")

$workdir = Join-Path ([System.IO.Path]::GetTempPath()) ([System.IO.Path]::GetRandomFileName())
New-Item -ItemType Directory -Path $workdir | Out-Null
try {
  $valueFile = Join-Path $workdir 'value'
  [System.IO.File]::WriteAllText($valueFile, $value)
  az keyvault secret set --vault-name $env:AZURE_KEY_VAULT_NAME --name $secret --file $valueFile `
    --encoding utf-8 --output none
  if ($LASTEXITCODE -ne 0) {
    if ($env:VNET_ENABLED -eq 'true') {
      [Console]::Error.WriteLine('The vault takes no public traffic (VNET_ENABLED): run this from a network that reaches its private endpoint.')
    }
    exit 1
  }
}
finally {
  Remove-Item -Recurse -Force $workdir
}

$site = az functionapp show --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME --query id --output tsv
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
# The Resource Manager endpoint of the cloud the CLI is signed in to (`az cloud set`), as in set-secret.sh.
$arm = az cloud show --query endpoints.resourceManager --output tsv
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
az rest --method post --output none `
  --url "$("$arm".TrimEnd('/'))$("$site".Trim())/config/configreferences/appsettings/refresh?api-version=2022-03-01"
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Output "$Setting stored as Key Vault secret $secret; the Function App re-reads its Key Vault references."
