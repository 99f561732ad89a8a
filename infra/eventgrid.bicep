// Event Grid wiring, deployed by the postdeploy hook (infra/scripts/postdeploy.sh) once the app runs: on each
// target resource group, a system topic whose subscription sends the Private Link Services' write, delete and
// action events to the approve function (an event is a wake-up hint: the function re-reads ARM and decides).
// Undeliverable events are dead-lettered to a blob container of the app's storage account.
targetScope = 'subscription'

@description('Comma-separated names of the target resource groups (the TARGET_RESOURCE_GROUPS output of main.bicep).')
param targetResourceGroups string

@description('Resource group of the app (holds the storage account).')
param appResourceGroup string

@description('Default host name of the Function App.')
param functionAppHostName string

param storageAccountName string
param deadLetterContainerName string

@secure()
@description('The Function App\'s eventgrid_extension system key (az functionapp keys list).')
param eventGridExtensionKey string

var targetGroups = empty(trim(targetResourceGroups)) ? [] : split(replace(targetResourceGroups, ' ', ''), ',')

module topics 'modules/eventgrid-topic.bicep' = [for group in targetGroups: {
  name: 'eventgrid-topic-${uniqueString(group)}'
  scope: resourceGroup(group)
  params: {
    name: 'evgt-privatelink-${uniqueString(subscription().id, group)}'
  }
}]

module deadLetterAccess 'modules/deadletter-access.bicep' = [for (group, index) in targetGroups: {
  name: 'eventgrid-deadletter-${uniqueString(group)}'
  scope: resourceGroup(appResourceGroup)
  params: {
    storageAccountName: storageAccountName
    containerName: deadLetterContainerName
    principalId: topics[index].outputs.principalId
  }
}]

module subscriptions 'modules/eventgrid-subscription.bicep' = [for (group, index) in targetGroups: {
  name: 'eventgrid-subscription-${uniqueString(group)}'
  scope: resourceGroup(group)
  dependsOn: [
    deadLetterAccess[index]
  ]
  params: {
    topicName: topics[index].outputs.name
    functionAppHostName: functionAppHostName
    eventGridExtensionKey: eventGridExtensionKey
    deadLetterStorageAccountId: resourceId(subscription().subscriptionId, appResourceGroup, 'Microsoft.Storage/storageAccounts', storageAccountName)
    deadLetterContainerName: deadLetterContainerName
  }
}]
