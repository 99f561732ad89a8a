// Key Vault in RBAC mode for every secret the app reads: the EMQX Platform API secret and, per link, the
// deployment API key and secret and the Redis password. The app reads them only as Key Vault references
// (Key Vault Secrets User); the deploying principal stores them (Key Vault Secrets Officer).
// No secret value passes through this template: infra/scripts/set-secret.sh writes them.
//
// Purge protection keeps a deleted vault's name taken for softDeleteRetentionInDays (90): main.bicep therefore names
// the vault after the deployment's managed identity, which `azd down` deletes with the resource group, so that a
// redeployment gets a new name (README, Removing the deployment).
param name string
param location string
param tags object
param readerPrincipalId string
param officerPrincipalId string
@description('Private networking (main.bicep): public network access off; the app resolves its Key Vault references through a private endpoint (modules/network.bicep).')
param vnetEnabled bool

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // The two skips hold with vnetEnabled false only (infra/scripts/checkov.sh checks the vnetEnabled true rendering without them).
  //checkov:skip=CKV_AZURE_109: (vnetEnabled false) App Service resolves Key Vault references over the public endpoint when the app has no VNet integration; access is RBAC-only.
  //checkov:skip=CKV_AZURE_189: (vnetEnabled false) same reason as CKV_AZURE_109; the operator's set-secret.sh also writes over it, with the Secrets Officer role.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: vnetEnabled ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(officerPrincipalId)) {
  name: guid(vault.id, officerPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: officerPrincipalId
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
output id string = vault.id
