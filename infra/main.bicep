// The whole deployment for `azd provision`: one resource group for the app, and the app's managed identity
// granted the network role on each target resource group. Event Grid subscriptions come after `azd deploy`
// (infra/eventgrid.bicep, run by the postdeploy hook): they need the approve function's system key.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Region of the app and its resources.')
param location string

@description('Object ID of the principal running the deployment; gets Key Vault Secrets Officer to store the secrets. Empty: none.')
param principalId string = ''

@description('Comma-separated names of the resource groups (in this subscription) holding the links\' load balancers, Private Link Services, subnets and backend NICs.')
param targetResourceGroups string = ''

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

@allowed([
  'console'
  'api'
])
@description('How a link is registered with EMQX: console (hand-off to the operator) or api (the PrivateLink contract).')
param registrationMode string = 'console'

@description('NCRONTAB schedule of the monitor function (six fields).')
param monitorSchedule string = '0 */5 * * * *'

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

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
// Resource group names hold no spaces, so removing them tolerates "rg-a, rg-b".
var targetGroups = empty(trim(targetResourceGroups)) ? [] : split(replace(targetResourceGroups, ' ', ''), ',')
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
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: appGroup
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    readerPrincipalId: identity.outputs.principalId
    officerPrincipalId: principalId
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
  }
}

// ONLY the Microsoft.Network actions shared/azure_network.py performs (tests/unit/test_role_actions.py derives
// them from the module's SDK calls), plus the linked-access checks ARM makes on the references those writes send.
resource networkRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(targetGroups)) {
  name: guid(subscription().id, environmentName, 'emqx-privatelink-network')
  properties: {
    roleName: 'EMQX PrivateLink automation (${environmentName}, ${resourceToken})'
    description: 'Reads and writes the load balancers, Private Link Services and their connections of EMQX PrivateLinks, and binds backend NICs.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          // subnets.get / begin_create_or_update: privateLinkServiceNetworkPolicies on the NAT subnet
          'Microsoft.Network/virtualNetworks/subnets/read'
          'Microsoft.Network/virtualNetworks/subnets/write'
          // network_interfaces.get / begin_create_or_update: backend pool (and NAT rule) membership is a NIC PUT
          'Microsoft.Network/networkInterfaces/read'
          'Microsoft.Network/networkInterfaces/write'
          // load_balancers.get / begin_create_or_update / begin_delete
          'Microsoft.Network/loadBalancers/read'
          'Microsoft.Network/loadBalancers/write'
          'Microsoft.Network/loadBalancers/delete'
          // private_link_services.get / begin_create_or_update / begin_delete
          'Microsoft.Network/privateLinkServices/read'
          'Microsoft.Network/privateLinkServices/write'
          'Microsoft.Network/privateLinkServices/delete'
          // private_link_services.list_ / get_ / update_ / begin_delete_private_endpoint_connection(s)
          'Microsoft.Network/privateLinkServices/privateEndpointConnections/read'
          'Microsoft.Network/privateLinkServices/privateEndpointConnections/write'
          'Microsoft.Network/privateLinkServices/privateEndpointConnections/delete'
          // The SDK pollers GET the Azure-AsyncOperation and Location URLs of every long-running write and delete.
          'Microsoft.Network/locations/operations/read'
          'Microsoft.Network/locations/operationResults/read'
          // Linked access: the load balancer's frontend, the PLS NAT IP configuration and every NIC PUT (which
          // sends its ip configuration's subnet back) reference a subnet.
          'Microsoft.Network/virtualNetworks/subnets/join/action'
          // Linked access: a NIC PUT that adds the link's backend pool / inbound NAT rule references them.
          'Microsoft.Network/loadBalancers/backendAddressPools/join/action'
          'Microsoft.Network/loadBalancers/inboundNatRules/join/action'
          // Linked access: the Private Link Service references the load balancer's frontend IP configuration.
          'Microsoft.Network/loadBalancers/frontendIPConfigurations/join/action'
          // Linked access: a subnet or NIC PUT sends its network security group back (Microsoft's Private Link
          // RBAC list names it for the same reason).
          'Microsoft.Network/networkSecurityGroups/join/action'
        ]
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

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = appGroup.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output EVENTGRID_DEADLETTER_CONTAINER string = storage.outputs.deadLetterContainerName
output TARGET_RESOURCE_GROUPS string = join(targetGroups, ',')
output LINK_SECRET_SETTINGS string = join(linkSecretNames, ',')
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
