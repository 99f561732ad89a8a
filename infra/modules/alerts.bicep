// Alerts and a workbook on the app's structured logs in Application Insights. The app's logger exports through
// OpenTelemetry (shared/telemetry.py): each record is a row of `traces` whose customDimensions hold the record's `extra`
// fields (link, step, outcome, duration_ms, decision, health) and `logger_name` "emqx_privatelink", which tells it from
// the Functions host's copy of the same line. The queries are in infra/alerts/*.kql; tests/unit/test_infra_alerts.py
// checks that every field and value they name is one the app logs.
param location string
param tags object
param applicationInsightsId string
@description('Where the alerts are e-mailed; empty: no action group, the alerts show in Azure Monitor only.')
param alertEmail string
param pendingMinutes int
param redisFailures int

var queries = {
  linkFailed: loadTextContent('../alerts/link-failed.kql')
  redisFailing: replace(loadTextContent('../alerts/redis-failing.kql'), '{{REDIS_FAILURES}}', string(redisFailures))
  connectionPending: replace(loadTextContent('../alerts/connection-pending.kql'), '{{PENDING_MINUTES}}', string(pendingMinutes))
  budgetExhausted: loadTextContent('../alerts/budget-exhausted.kql')
}

// The two rules that look back further read one day of logs (windowSize P1D): a connection left Pending for longer than
// that, or failed tests further apart, drop out of their sight (README, Deploy to Azure); alertPendingMinutes is
// therefore at most 720.
var rules = [
  {
    name: 'link-failed'
    displayName: 'EMQX PrivateLink: a link failed'
    description: 'A link moved to phase failed (EMQX reports its PrivateLink failed or gone, or EMQX\'s endpoint connection is gone). GET /api/links/{name} says why.'
    severity: 1
    query: queries.linkFailed
    dimension: 'link'
    frequency: 'PT5M'
    window: 'PT15M'
  }
  {
    name: 'redis-failing'
    displayName: 'EMQX PrivateLink: Redis test failing'
    description: 'A link\'s Redis test through the PrivateLink failed on ${redisFailures} runs in a row.'
    severity: 2
    query: queries.redisFailing
    dimension: 'link'
    frequency: 'PT30M'
    window: 'P1D'
  }
  {
    name: 'connection-pending'
    displayName: 'EMQX PrivateLink: connection pending'
    description: 'A private endpoint connection has been Pending for more than ${pendingMinutes} minutes.'
    severity: 2
    query: queries.connectionPending
    dimension: 'link'
    frequency: 'PT30M'
    window: 'P1D'
  }
  {
    name: 'budget-exhausted'
    displayName: 'EMQX PrivateLink: EMQX or ARM budget exhausted'
    description: 'The EMQX Platform API budget is spent, EMQX answered 429, or ARM throttles the subscription: calls wait.'
    severity: 3
    query: queries.budgetExhausted
    dimension: 'code'
    frequency: 'PT15M'
    window: 'PT15M'
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-emqx-privatelink-${uniqueString(applicationInsightsId)}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'emqx-plink'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: 'alert-emqx-privatelink-${rule.name}-${uniqueString(applicationInsightsId)}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          dimensions: [
            {
              name: rule.dimension
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    // Resolved by itself once the query finds nothing for the link (or code) again.
    autoMitigate: true
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        actionGroup.id
      ]
    }
  }
}]

var workbookQuery = {
  version: 'KqlItem/1.0'
  size: 0
  queryType: 0
  resourceType: 'microsoft.insights/components'
  timeContext: {
    durationMs: 604800000
  }
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsightsId, 'emqx-privatelink-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'EMQX PrivateLink links'
    category: 'workbook'
    sourceId: applicationInsightsId
    version: 'Notebook/1.0'
    serializedData: string({
      version: 'Notebook/1.0'
      items: [
        {
          type: 1
          name: 'about'
          content: {
            json: '## EMQX PrivateLink\nEach link\'s phase (its last phase change) and its Redis test history over the last 7 days, from the app\'s structured logs. A pass is logged only when it follows a failure.'
          }
        }
        {
          type: 3
          name: 'phases'
          content: union(workbookQuery, {
            title: 'Phase of each link'
            query: loadTextContent('../alerts/workbook-phases.kql')
            visualization: 'table'
          })
        }
        {
          type: 3
          name: 'redis-failures'
          content: union(workbookQuery, {
            title: 'Failed Redis tests per hour'
            query: loadTextContent('../alerts/workbook-redis-failures.kql')
            visualization: 'timechart'
          })
        }
        {
          type: 3
          name: 'redis-tests'
          content: union(workbookQuery, {
            title: 'Redis test history'
            query: loadTextContent('../alerts/workbook-redis-tests.kql')
            visualization: 'table'
          })
        }
      ]
      fallbackResourceIds: [
        applicationInsightsId
      ]
    })
  }
}

output workbookId string = workbook.id
output actionGroupId string = empty(alertEmail) ? '' : actionGroup.id
