// The Function App on Flex Consumption (Python `pythonVersion`) with its app settings: the product's settings
// (shared/settings.py SETTING_NAMES, the same names as local.settings.json.example and the README), the
// settings links name for their secrets (Key Vault references), and the Functions runtime's own settings.
// Optionally, Microsoft Entra ID authentication (App Service authentication) in front of the HTTP API.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
@secure()
param applicationInsightsConnectionString string
param keyVaultUri string
param linkSecretNames array
param emqxPlatformApiUrl string
param emqxPlatformApiKey string
param emqxAzureSubscriptionId string
param emqxDeploymentApiHosts string
param auditRetentionDays int
param leaseMarginSeconds int
param armReadFloorPercent int
param eventGridTopicEndpoint string
param registrationMode string
param monitorSchedule string
param monitorConcurrency int
param redisTestInterval string
param provisionBudgetSeconds int
param unmatchedConnections string
param stateTablePrefix string
param enableEntraAuth bool
param entraClientId string
param entraAllowedClientApplications array
param pythonVersion string
@description('The subnet of the Function App\'s VNet integration (modules/network.bicep); empty: none.')
param appSubnetId string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// Key Vault secret names allow letters, digits and dashes: an app setting's secret is its name in kebab case.
var productSettings = [
  {
    name: 'ARM_ENDPOINT'
    value: environment().resourceManager
  }
  {
    name: 'ARM_CREDENTIAL_SCOPE'
    value: '${environment().resourceManager}.default'
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    // Only for a stand-in cloud with its own CA; Azure's certificates are publicly trusted.
    name: 'TLS_CA_BUNDLE'
    value: ''
  }
  {
    name: 'STATE_TABLE_SERVICE_URI'
    value: storage.properties.primaryEndpoints.table
  }
  {
    // Local development only (Azurite); in Azure the state is reached with the managed identity.
    name: 'STATE_STORAGE_CONNECTION_STRING'
    value: ''
  }
  {
    name: 'STATE_TABLE_PREFIX'
    value: stateTablePrefix
  }
  {
    name: 'EMQX_PLATFORM_API_URL'
    value: emqxPlatformApiUrl
  }
  {
    name: 'EMQX_PLATFORM_API_KEY'
    value: emqxPlatformApiKey
  }
  {
    // The key and the secret are set together (shared/settings.py refuses one without the other).
    name: 'EMQX_PLATFORM_API_SECRET'
    value: empty(emqxPlatformApiKey) ? '' : '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/emqx-platform-api-secret/)'
  }
  {
    name: 'EMQX_AZURE_SUBSCRIPTION_ID'
    value: emqxAzureSubscriptionId
  }
  {
    name: 'REGISTRATION_MODE'
    value: registrationMode
  }
  {
    name: 'MONITOR_SCHEDULE'
    value: monitorSchedule
  }
  {
    name: 'MONITOR_CONCURRENCY'
    value: string(monitorConcurrency)
  }
  {
    name: 'REDIS_TEST_INTERVAL'
    value: redisTestInterval
  }
  {
    name: 'PROVISION_BUDGET_SECONDS'
    value: string(provisionBudgetSeconds)
  }
  {
    name: 'UNMATCHED_CONNECTIONS'
    value: unmatchedConnections
  }
  {
    name: 'AUDIT_RETENTION_DAYS'
    value: string(auditRetentionDays)
  }
  {
    name: 'LEASE_MARGIN_SECONDS'
    value: string(leaseMarginSeconds)
  }
  {
    name: 'ARM_READ_FLOOR_PERCENT'
    value: string(armReadFloorPercent)
  }
  {
    name: 'EVENTGRID_TOPIC_ENDPOINT'
    value: eventGridTopicEndpoint
  }
  {
    // The only settings a link may name for its secrets: the Key Vault references below.
    name: 'LINK_SECRET_SETTINGS'
    value: join(linkSecretNames, ',')
  }
  {
    name: 'EMQX_DEPLOYMENT_API_HOSTS'
    value: emqxDeploymentApiHosts
  }
  {
    // Only for a stand-in cloud on loopback; in Azure an EMQX name resolving to loopback is refused.
    name: 'EMQX_ALLOW_LOOPBACK'
    value: 'false'
  }
]

var linkSecretSettings = [for setting in linkSecretNames: {
  name: setting
  value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${replace(toLower(setting), '_', '-')}/)'
}]

// Flex Consumption sets the worker runtime and version itself (functionAppConfig), not by app setting.
// The host's storage by service URI, not by account name: `__accountName` builds public-cloud host names
// (core.windows.net), while the URIs are the account's own endpoints in whichever cloud it lives (Azure Government,
// Azure China). Identity-based host storage takes either form (Azure Functions, "Connecting to host storage with an
// identity"; Azure-Samples/functions-quickstart-python-http-azd infra/app/api.bicep sets these three the same way).
var runtimeSettings = [
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: storage.properties.primaryEndpoints.blob
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: storage.properties.primaryEndpoints.queue
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: storage.properties.primaryEndpoints.table
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsightsConnectionString
  }
  {
    // Application Insights takes Entra ID-authenticated telemetry only (local authentication is off).
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225: zone redundancy of Flex Consumption is a per-region opt-in; the app keeps no state in the instance and the monitor timer reconciles every link after an outage.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_222: Event Grid delivers to the public webhook and platform portals call the API; every route needs a function key (and, optionally, an Entra ID token).
  //checkov:skip=CKV_AZURE_17: callers authenticate with function keys and optionally Entra ID tokens; Event Grid cannot present a client certificate.
  //checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero; the timer and Event Grid retries carry the work over a cold start.
  //checkov:skip=CKV_AZURE_213: App Service health check is not offered on Flex Consumption; GET /api/health answers external probes.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    // With vnetEnabled, the app's outbound traffic goes through its subnet: storage and Key Vault by their private
    // endpoints, the internet (ARM, Entra ID, EMQX) through the subnet's NAT gateway.
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(productSettings, linkSecretSettings, runtimeSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: 2048
        maximumInstanceCount: 40
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Entra ID in front of the HTTP API: a caller needs a token for the API's app registration AND a function key.
// Event Grid's deliveries carry no Entra token: its webhook stays behind the eventgrid_extension system key alone.
// Deployed either way, so that setting enableEntraAuth back to false turns authentication off again.
var entraProvider = {
  azureActiveDirectory: {
    enabled: true
    registration: {
      clientId: entraClientId
      openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    }
    validation: {
      allowedAudiences: [
        entraClientId
        'api://${entraClientId}'
      ]
      defaultAuthorizationPolicy: {
        allowedApplications: entraAllowedClientApplications
      }
    }
  }
}

resource authentication 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov reads this authsettingsV2 child as a whole site; the site's own checks run on `site` above.
  //checkov:skip=CKV_AZURE_13: Entra ID authentication is an option (enableEntraAuth); every route needs a function key either way.
  //checkov:skip=CKV_AZURE_63: not a site: HTTP logs are a site setting.
  //checkov:skip=CKV_AZURE_65: not a site: detailed errors are a site setting.
  //checkov:skip=CKV_AZURE_66: not a site: failed request tracing is a site setting.
  //checkov:skip=CKV_AZURE_80: not a site: the .NET version is a site setting (and the app runs Python).
  //checkov:skip=CKV_AZURE_88: not a site: Flex Consumption mounts no Azure Files share.
  //checkov:skip=CKV_AZURE_222: not a site: public network access is decided on `site`.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: enableEntraAuth
    }
    globalValidation: {
      requireAuthentication: enableEntraAuth
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/runtime/webhooks/eventgrid'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    identityProviders: enableEntraAuth ? entraProvider : {}
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
