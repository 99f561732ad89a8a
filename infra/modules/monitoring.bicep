// Log Analytics and a workspace-based Application Insights that accepts only Entra ID-authenticated telemetry:
// the host and the app's OpenTelemetry exporter send as the managed identity (Monitoring Metrics Publisher).
param workspaceName string
param applicationInsightsName string
param location string
param tags object
param publisherPrincipalId string

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, publisherPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: publisherPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Entra ID-authenticated ingestion needs a token for Azure Monitor's audience in this cloud: the app's exporter reads
// it from the connection string's AADAudience and otherwise asks for the public cloud's, https://monitor.azure.com/
// (azure-monitor-opentelemetry-exporter, _connection_string_parser.py). Added here for Azure Government and Azure
// China when the connection string does not carry it already.
var monitorAudiences = {
  AzureUSGovernment: 'https://monitor.azure.us/'
  AzureChinaCloud: 'https://monitor.azure.cn/'
}
var connectionString = applicationInsights.properties.ConnectionString
var audience = contains(monitorAudiences, environment().name) ? monitorAudiences[environment().name] : ''
var needsAudience = !empty(audience) && !contains(toLower(connectionString), 'aadaudience=')

output connectionString string = needsAudience ? '${connectionString};AADAudience=${audience}' : connectionString
output id string = applicationInsights.id
