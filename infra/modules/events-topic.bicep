// The custom topic the app publishes each link's life-cycle events to (README "Events"): CloudEvents 1.0 in, local
// (key and SAS) authentication off, so only Microsoft Entra principals holding "EventGrid Data Sender" may publish:
// the app's managed identity.
param name string
param location string
param tags object
param senderPrincipalId string

// EventGrid Data Sender (built-in role, https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var dataSenderRoleId = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  //checkov:skip=CKV_AZURE_193: the app publishes over the topic's public endpoint, with Entra ID only (local auth is off, so a caller without the Data Sender role is refused); with vnetEnabled too, as the template gives the topic no private endpoint (README "Events").
  name: name
  location: location
  tags: tags
  // Delivery to destinations that authenticate the topic (a subscription's managed-identity delivery).
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, senderPrincipalId, dataSenderRoleId)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSenderRoleId)
    principalId: senderPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output id string = topic.id
output name string = topic.name
output endpoint string = topic.properties.endpoint
