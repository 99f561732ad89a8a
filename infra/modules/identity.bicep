// The app's user-assigned managed identity: every Azure call of the app (ARM, Table Storage, Key Vault
// references, Application Insights, the host's own storage) authenticates as it.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
