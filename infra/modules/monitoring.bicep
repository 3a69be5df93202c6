// Where everything reports: the Log Analytics workspace (diagnostics, Container insights), workspace-based
// Application Insights (the Function), the Azure Monitor workspace (managed Prometheus), the action group every
// alert notifies, and the resource group's monthly budget.

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param appInsightsName string

@description('Azure Monitor workspace name (managed Prometheus).')
param monitorWorkspaceName string

@description('Action group name.')
param actionGroupName string

@description('Action group short name (at most 12 characters, shown in SMS and email).')
@maxLength(12)
param actionGroupShortName string

@description('Budget name.')
param budgetName string

@description('Region of the workspaces.')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int

@description('Address the alerts and the budget notify.')
param alertEmail string

@description('Monthly budget of the resource group, in the billing currency.')
@minValue(1)
param monthlyBudget int

@description('First day of the budget (the first of a month, yyyy-MM-dd).')
param budgetStartDate string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
  }
}

resource monitorWorkspace 'Microsoft.Monitor/accounts@2023-04-03' = {
  name: monitorWorkspaceName
  location: location
  tags: tags
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    emailReceivers: [
      {
        name: 'operations'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// Consumption budgets take no tags; this one covers the resource group it is deployed to.
resource budget 'Microsoft.Consumption/budgets@2023-05-01' = {
  name: budgetName
  properties: {
    category: 'Cost'
    amount: monthlyBudget
    timeGrain: 'Monthly'
    timePeriod: {
      startDate: budgetStartDate
    }
    notifications: {
      actualAbove80Percent: {
        enabled: true
        operator: 'GreaterThan'
        threshold: 80
        thresholdType: 'Actual'
        contactEmails: [
          alertEmail
        ]
        contactGroups: [
          actionGroup.id
        ]
      }
      forecastAbove100Percent: {
        enabled: true
        operator: 'GreaterThan'
        threshold: 100
        thresholdType: 'Forecasted'
        contactEmails: [
          alertEmail
        ]
        contactGroups: [
          actionGroup.id
        ]
      }
    }
  }
}

output logAnalyticsId string = logAnalytics.id
output appInsightsConnectionString string = appInsights.properties.ConnectionString
output monitorWorkspaceId string = monitorWorkspace.id
output monitorWorkspaceName string = monitorWorkspace.name
output prometheusQueryEndpoint string = monitorWorkspace.properties.metrics.prometheusQueryEndpoint
output actionGroupId string = actionGroup.id
