// The Function app as the dashboard's backend: the static web app forwards /api/* to it with the signed-in user's
// principal, so the dashboard calls its API on its own origin. A module of its own because of the order: the static
// web app exists before the Function app (whose settings name its host), and the link comes after both and after
// the Function app's App Service Authentication (function.bicep), which the link adds a provider to.

@description('Name of the link.')
param name string

@description('Name of the static web app (dashboard.bicep).')
param staticSiteName string

@description('Name of the Function app that serves /api (function.bicep).')
param functionAppName string

resource staticSite 'Microsoft.Web/staticSites@2023-12-01' existing = {
  name: staticSiteName
}

resource functionApp 'Microsoft.Web/sites@2023-12-01' existing = {
  name: functionAppName
}

resource backend 'Microsoft.Web/staticSites/linkedBackends@2023-12-01' = {
  parent: staticSite
  name: name
  properties: {
    backendResourceId: functionApp.id
    region: functionApp.location
  }
}

output backendResourceId string = functionApp.id
