// The whole deployment for `azd provision`: one resource group for the app, and the app's managed identity
// granted the network role on each target resource group. Event Grid subscriptions come after `azd deploy`
// (infra/eventgrid.bicep, run by the postdeploy hook): they need the approve function's system key.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names and tags every resource.')
param environmentName string

// The regions that offer the Flex Consumption plan (a deployment elsewhere fails late, when the plan is created).
// Taken from Azure-Samples/functions-quickstart-python-http-azd infra/main.bicep at 7ed4638 (2025-11-24), less the
// canary region eastus2euap. Refresh it from the CLI's cloud (a sovereign cloud lists its own regions):
//   az functionapp list-flexconsumption-locations --query "[].name" -o tsv | python3 infra/scripts/flex_regions.py
@minLength(1)
@description('Region of the app and its resources: one that offers the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
// flex-regions:start
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
// flex-regions:end
param location string

@description('Object ID of the principal running the deployment; gets Key Vault Secrets Officer to store the secrets. Empty: none.')
param principalId string = ''

@description('Comma-separated names of the resource groups (in this subscription) holding the links\' load balancers, Private Link Services, subnets and backend NICs.')
param targetResourceGroups string = ''

@description('Comma-separated names of hub resource groups (in this subscription) holding route tables, network security groups, NAT gateways, service endpoint policies, public IPs or application security groups that the target groups\' subnets and backend NICs reference; the identity gets only their join actions there.')
param hubResourceGroups string = ''

@description('Comma-separated names of the app settings that links name for their secrets (deployment API key and secret, Redis password); each is a Key Vault reference.')
param linkSecretSettings string = ''

@description('EMQX Cloud Platform API base URL, e.g. https://cloud-intl.emqx.com/api/public_api/v1. Empty: not used.')
param emqxPlatformApiUrl string = ''

@description('EMQX Cloud Platform API key; its secret goes to Key Vault (infra/scripts/set-secret.sh EMQX_PLATFORM_API_SECRET). Empty: not used.')
param emqxPlatformApiKey string = ''

@description('Azure subscription ID EMQX Cloud creates its private endpoints from (shown in the EMQX Console).')
param emqxAzureSubscriptionId string = ''

@description('Comma-separated host patterns a link\'s EMQX deployment API URL may name (*.domain, host or IP, each with an optional :port; without one, 443 and 8443).')
param emqxDeploymentApiHosts string = '*.emqxsl.com,*.emqxcloud.com,*.emqx.cloud'

@minValue(1)
@maxValue(3650)
@description('Days an audit record is kept; the monitor forgets older ones.')
param auditRetentionDays int = 90

@minValue(1)
@maxValue(600)
@description('Seconds a run\'s lease on a link outlives the provisioning budget: after a crash, another run takes over then.')
param leaseMarginSeconds int = 60

@minValue(1)
@maxValue(90)
@description('Percent of ARM\'s read bucket (250 per subscription) the monitor leaves to other tools: below it, refreshes of settled links wait.')
param armReadFloorPercent int = 50

@allowed([
  'console'
  'api'
])
@description('How a link is registered with EMQX: console (hand-off to the operator) or api (the PrivateLink contract).')
param registrationMode string = 'console'

@description('NCRONTAB schedule of the monitor function (six fields).')
param monitorSchedule string = '*/30 * * * * *'

@minValue(1)
@maxValue(256)
@description('Links the monitor checks at the same time.')
param monitorConcurrency int = 8

@description('How often a running link is proven with a Redis test, e.g. 30m, 1h, 1d.')
param redisTestInterval string = '1h'

@minValue(1)
@maxValue(200)
@description('Seconds an HTTP call works before answering 202; Azure cuts HTTP functions at 230 s.')
param provisionBudgetSeconds int = 120

@allowed([
  'leave'
  'reject'
])
@description('What happens to a pending connection from a subscription a link does not allow.')
param unmatchedConnections string = 'leave'

@minLength(1)
@maxLength(40)
@description('Prefix of the app\'s state tables.')
param stateTablePrefix string = 'emqxpl'

@description('Put Microsoft Entra ID authentication (App Service authentication) in front of the HTTP API; function keys stay required.')
param enableEntraAuth bool = false

@description('Application (client) ID of the Entra ID app registration that represents the API. Required when enableEntraAuth is true.')
param entraClientId string = ''

@description('Comma-separated client IDs of the applications allowed to call the API. Empty: any application of the tenant with a token for the API.')
param entraAllowedClientApplications string = ''

// 3.12 by default: the newest version whose Azure worker is the same generation as 3.11's (azure-functions 1.x);
// 3.13 runs on the new proxy worker with azure-functions 2.x (requirements.txt pins both by environment marker),
// which `make test` exercises here but only a deployment to Azure proves.
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
@description('Python version of the Function App (Flex Consumption).')
param pythonVersion string = '3.12'

@description('Private networking: VNet integration for the Function App; private endpoints and private DNS zones for the storage account (blob, queue, table) and Key Vault, whose public network access is then disabled.')
param vnetEnabled bool = false

@description('Address space of the app\'s VNet when vnetEnabled. Pick one that does not overlap a network you peer it with.')
param vnetAddressPrefix string = '10.250.0.0/24'

@description('The Function App\'s subnet (delegated to Microsoft.App/environments), inside vnetAddressPrefix: one address per instance, up to 40, plus the platform\'s.')
param appSubnetPrefix string = '10.250.0.0/25'

@description('The subnet of the private endpoints (storage blob, queue, table and Key Vault), inside vnetAddressPrefix.')
param privateEndpointSubnetPrefix string = '10.250.0.128/27'

@description('E-mail address the alerts are sent to (an action group). Empty: the alert rules fire in Azure Monitor only.')
param alertEmail string = ''

@minValue(5)
@maxValue(720)
@description('Minutes a private endpoint connection may stay Pending before the pending-connection alert fires (the rule reads a day of logs).')
param alertPendingMinutes int = 60

@minValue(1)
@maxValue(10)
@description('Failed Redis tests of a link in a row before the Redis alert fires.')
param alertRedisFailures int = 2

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
// Resource group names hold no spaces, so removing them tolerates "rg-a, rg-b".
var targetGroups = empty(trim(targetResourceGroups)) ? [] : split(replace(targetResourceGroups, ' ', ''), ',')
var hubGroups = empty(trim(hubResourceGroups)) ? [] : split(replace(hubResourceGroups, ' ', ''), ',')
var linkSecretNames = empty(trim(linkSecretSettings)) ? [] : split(replace(linkSecretSettings, ' ', ''), ',')
var allowedClientApplications = empty(trim(entraAllowedClientApplications)) ? [] : split(replace(entraAllowedClientApplications, ' ', ''), ',')

resource appGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: appGroup
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: appGroup
  params: {
    workspaceName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    publisherPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: appGroup
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package'
    deadLetterContainerName: 'eventgrid-deadletter'
    appPrincipalId: identity.outputs.principalId
    vnetEnabled: vnetEnabled
  }
}

// Key Vault keeps a deleted vault's name for 90 days (purge protection; azd down --purge leaves such a vault alone,
// Azure/azure-dev cli/azd/pkg/infra/provisioning/bicep/bicep_provider.go getKeyVaultsToPurge). The name therefore
// also hashes the managed identity's principal ID: stable across `azd provision`, new once `azd down` has deleted the
// identity with the resource group, so that `azd up` after `azd down` creates a new vault instead of failing on the
// soft-deleted one.
module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: appGroup
  params: {
    name: 'kv-${uniqueString(subscription().id, environmentName, location, identity.outputs.principalId)}'
    location: location
    tags: tags
    readerPrincipalId: identity.outputs.principalId
    officerPrincipalId: principalId
    vnetEnabled: vnetEnabled
  }
}

module network 'modules/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: appGroup
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    storageAccountId: storage.outputs.id
    keyVaultId: vault.outputs.id
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: appGroup
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.id
    alertEmail: alertEmail
    pendingMinutes: alertPendingMinutes
    redisFailures: alertRedisFailures
  }
}

module eventsTopic 'modules/events-topic.bicep' = {
  name: 'events-topic'
  scope: appGroup
  params: {
    name: 'evgt-${environmentName}'
    location: location
    tags: tags
    senderPrincipalId: identity.outputs.principalId
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: appGroup
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: vault.outputs.uri
    linkSecretNames: linkSecretNames
    emqxPlatformApiUrl: emqxPlatformApiUrl
    emqxPlatformApiKey: emqxPlatformApiKey
    emqxAzureSubscriptionId: emqxAzureSubscriptionId
    emqxDeploymentApiHosts: emqxDeploymentApiHosts
    auditRetentionDays: auditRetentionDays
    leaseMarginSeconds: leaseMarginSeconds
    armReadFloorPercent: armReadFloorPercent
    eventGridTopicEndpoint: eventsTopic.outputs.endpoint
    registrationMode: registrationMode
    monitorSchedule: monitorSchedule
    monitorConcurrency: monitorConcurrency
    redisTestInterval: redisTestInterval
    provisionBudgetSeconds: provisionBudgetSeconds
    unmatchedConnections: unmatchedConnections
    stateTablePrefix: stateTablePrefix
    enableEntraAuth: enableEntraAuth
    entraClientId: entraClientId
    entraAllowedClientApplications: allowedClientApplications
    pythonVersion: pythonVersion
    appSubnetId: vnetEnabled ? network.outputs.appSubnetId : ''
  }
}

// ONLY the Microsoft.Network actions shared/azure_network.py performs (tests/unit/test_role_actions.py derives
// them from the module's SDK calls), plus the linked-access checks ARM makes on the references those writes send:
// infra/network-role.json, one file that localcloud's ARM enforces too (its `why` says what needs each action).
var networkRoleDefinition = loadJsonContent('network-role.json')

resource networkRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(targetGroups)) {
  name: guid(subscription().id, environmentName, 'emqx-privatelink-network')
  properties: {
    roleName: '${networkRoleDefinition.name} (${environmentName}, ${resourceToken})'
    description: networkRoleDefinition.description
    type: 'CustomRole'
    permissions: [
      {
        actions: networkRoleDefinition.actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [for group in targetGroups: '${subscription().id}/resourceGroups/${group}']
  }
}

module networkRoleAssignments 'modules/network-role-assignment.bicep' = [for group in targetGroups: {
  name: 'network-role-${uniqueString(group)}'
  scope: resourceGroup(group)
  params: {
    roleDefinitionId: networkRole.id
    principalId: identity.outputs.principalId
  }
}]

// A hub resource group holds what the spokes' subnets and backend NICs reference (route tables, network security
// groups, NAT gateways, service endpoint policies, public IPs, application security groups). ARM checks the join
// action on each of them whenever the app sends a subnet or NIC back, so the identity gets the join actions there,
// and nothing else: a link can never create or change a resource in a hub group.
resource hubNetworkRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(hubGroups)) {
  name: guid(subscription().id, environmentName, 'emqx-privatelink-hub')
  properties: {
    roleName: '${networkRoleDefinition.hub.name} (${environmentName}, ${resourceToken})'
    description: networkRoleDefinition.hub.description
    type: 'CustomRole'
    permissions: [
      {
        actions: networkRoleDefinition.hub.actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [for group in hubGroups: '${subscription().id}/resourceGroups/${group}']
  }
}

module hubRoleAssignments 'modules/network-role-assignment.bicep' = [for group in hubGroups: {
  name: 'hub-role-${uniqueString(group)}'
  scope: resourceGroup(group)
  params: {
    roleDefinitionId: hubNetworkRole.id
    principalId: identity.outputs.principalId
  }
}]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = appGroup.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output EVENTGRID_DEADLETTER_CONTAINER string = storage.outputs.deadLetterContainerName
output TARGET_RESOURCE_GROUPS string = join(targetGroups, ',')
output HUB_RESOURCE_GROUPS string = join(hubGroups, ',')
output LINK_SECRET_SETTINGS string = join(linkSecretNames, ',')
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output VNET_ENABLED bool = vnetEnabled
output EVENTGRID_TOPIC_ENDPOINT string = eventsTopic.outputs.endpoint
