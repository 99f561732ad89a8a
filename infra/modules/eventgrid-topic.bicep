// The system topic of one target resource group's ARM events. Azure allows one such topic per resource
// group: where one exists already, subscribe to it instead (README, Deploy to Azure).
param name string

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: 'global'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: resourceGroup().id
    topicType: 'Microsoft.Resources.ResourceGroups'
  }
}

output name string = topic.name
output principalId string = topic.identity.principalId
