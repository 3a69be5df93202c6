// The operators' dashboard (dashboard/): a static web app on the Standard plan, the plan that takes a linked backend
// (the Function app answers /api on the site's own origin: dashboard-link.bicep) and a custom Entra ID sign-in
// (dashboard/public/staticwebapp.config.json). The sign-in's client id and secret are app settings of the site that
// scripts/deploy/dashboard_deploy.sh sets: this template declares no app settings, so that a deployment of it never
// clears the secret. The content comes from the pipeline with the site's deployment token, not from a repository.

@description('Static web app name.')
param name string

@description('Region of the resource: Static Web Apps exist in a few regions only, and serve the content from their global edge wherever the resource is.')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Log Analytics workspace that receives the diagnostics.')
param logAnalyticsWorkspaceId string

resource site 'Microsoft.Web/staticSites@2023-12-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // deployments with the Static Web Apps CLI record this provider; naming it here keeps a later deployment of the
    // template from being refused as a change of provider
    provider: 'SwaCli'
    // pull request environments get no linked backend: only the production environment is deployed
    stagingEnvironmentPolicy: 'Disabled'
    allowConfigFileUpdates: true
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${site.name}-logs'
  scope: site
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = site.id
output name string = site.name
output hostName string = site.properties.defaultHostname
