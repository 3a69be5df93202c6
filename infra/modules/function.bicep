// The Function app that turns uploads into jobs (functions_app/), with a `staging` slot for swaps. A dedicated Linux
// plan (P1v3 by default) supports slots and, unlike Elastic Premium, needs no Azure Files content share, which
// would need a storage key (both accounts have shared keys off). Both slots run as one user-assigned identity, so
// a swap keeps every role; the app settings are the ones functions_app/settings.py and api_settings.py read. Both
// slots have App Service Authentication (Entra ID) that lets unauthenticated requests through: the dashboard API
// answers 401 itself, CORS preflights carry no credentials, and the platform removes any X-MS-CLIENT-PRINCIPAL a
// client sends, which is what makes DASHBOARD_TRUST_EASY_AUTH=true safe.

@description('App Service plan name.')
param planName string

@description('Function app name (globally unique host name).')
param appName string

@description('Name of the deployment slot that new code is deployed to before the swap.')
param slotName string

@description('Region of the plan and the app.')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Plan size: a dedicated Linux tier with deployment slots.')
@allowed([
  'P0v3'
  'P1v3'
  'P2v3'
  'P3v3'
])
param planSku string

@description('Resource id of the user-assigned identity of both slots.')
param identityId string

@description('Client id of that identity (the identity-based connections name it).')
param identityClientId string

@description('Name of the host storage account (AzureWebJobsStorage).')
param hostStorageName string

@description('Host id of the production slot (names the blob trigger\'s internal queue in host storage).')
@maxLength(32)
param productionHostId string

@description('Host id of the deployment slot.')
@maxLength(32)
param slotHostId string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Blob endpoint of the media account (TranscodeStorage__blobServiceUri).')
param mediaBlobEndpoint string

@description('Queue endpoint of the media account (TranscodeStorage__queueServiceUri).')
param mediaQueueEndpoint string

@description('Table endpoint of the job records: the media account\'s or Cosmos DB for Table\'s (TranscodeStorage__tableServiceUri).')
param recordsTableEndpoint string

@description('Container the uploads land in (UPLOADS_CONTAINER).')
param uploadsContainer string

@description('Container of the packages (OUTPUTS_CONTAINER).')
param outputsContainer string

@description('Jobs queue (JOBS_QUEUE).')
param jobsQueue string

@description('Job records table (JOBS_TABLE).')
param jobsTable string

@description('Log Analytics workspace that receives the diagnostics.')
param logAnalyticsWorkspaceId string

@description('Origin of the dashboard, https://<static web app host> (DASHBOARD_ORIGIN: CORS and the origin writes may come from).')
param dashboardOrigin string

@description('Root of the Front Door route over the outputs container (PLAYBACK_BASE_URL; empty: SAS links).')
param playbackBaseUrl string

@description('Query endpoint of the Azure Monitor workspace (PROMETHEUS_URL of GET /api/fleet).')
param prometheusQueryEndpoint string

@description('Application (client) id of the Entra ID app registration App Service Authentication validates tokens for.')
param entraClientId string

@description('Entra ID tenant of that app registration.')
param entraTenantId string

var sharedSettings = [
  {
    name: 'FUNCTIONS_EXTENSION_VERSION'
    value: '~4'
  }
  {
    name: 'FUNCTIONS_WORKER_RUNTIME'
    value: 'python'
  }
  {
    name: 'AzureWebJobsStorage__accountName'
    value: hostStorageName
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
    value: appInsightsConnectionString
  }
  {
    name: 'TranscodeStorage__blobServiceUri'
    value: mediaBlobEndpoint
  }
  {
    name: 'TranscodeStorage__queueServiceUri'
    value: mediaQueueEndpoint
  }
  {
    name: 'TranscodeStorage__tableServiceUri'
    value: recordsTableEndpoint
  }
  {
    name: 'TranscodeStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'TranscodeStorage__clientId'
    value: identityClientId
  }
  {
    name: 'UPLOADS_CONTAINER'
    value: uploadsContainer
  }
  {
    name: 'OUTPUTS_CONTAINER'
    value: outputsContainer
  }
  {
    name: 'JOBS_QUEUE'
    value: jobsQueue
  }
  {
    name: 'JOBS_TABLE'
    value: jobsTable
  }
  {
    name: 'BLOB_TRIGGER_SOURCE'
    value: 'EventGrid'
  }
  {
    name: 'POISON_QUEUE'
    value: '${jobsQueue}-poison'
  }
  {
    name: 'DASHBOARD_TRUST_EASY_AUTH'
    value: 'true'
  }
  {
    name: 'DASHBOARD_ORIGIN'
    value: dashboardOrigin
  }
  {
    name: 'PLAYBACK_BASE_URL'
    value: playbackBaseUrl
  }
  {
    name: 'PROMETHEUS_URL'
    value: prometheusQueryEndpoint
  }
  {
    name: 'PROMETHEUS_AUTH'
    value: 'azure'
  }
]
// App Service Authentication (v2) of both slots: Entra ID tokens for the dashboard's app registration are validated
// and their principal passed on; a request without one still reaches the app (the API decides), and the platform's
// CORS stays off (DASHBOARD_ORIGIN is answered by the app)
var authSettings = {
  platform: {
    enabled: true
  }
  globalValidation: {
    requireAuthentication: false
    unauthenticatedClientAction: 'AllowAnonymous'
  }
  identityProviders: {
    azureActiveDirectory: {
      enabled: true
      registration: {
        clientId: entraClientId
        openIdIssuer: '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0'
      }
      validation: {
        allowedAudiences: [
          entraClientId
          'api://${entraClientId}'
        ]
      }
    }
  }
  login: {
    tokenStore: {
      enabled: false
    }
  }
  httpSettings: {
    requireHttps: true
  }
}
var identity = {
  type: 'UserAssigned'
  userAssignedIdentities: {
    '${identityId}': {}
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: planSku
  }
  properties: {
    // checkov:skip=CKV_AZURE_225:zone redundancy needs three instances; the Function only enqueues jobs and Event Grid retries for a day
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: identity
  properties: {
    // checkov:skip=CKV_AZURE_17:Event Grid delivers to the blobs webhook without a client certificate
    // checkov:skip=CKV_AZURE_212:one instance is enough to enqueue jobs; Event Grid retries deliveries for a day
    // checkov:skip=CKV_AZURE_213:the app has no anonymous health route to probe; the host's status endpoint needs the master key
    // checkov:skip=CKV_AZURE_222:Event Grid reaches the blobs webhook over the public endpoint
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      linuxFxVersion: 'Python|3.11'
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      remoteDebuggingEnabled: false
      appSettings: concat(sharedSettings, [
        {
          name: 'AzureFunctionsWebHost__hostid'
          value: productionHostId
        }
      ])
    }
  }
}

resource slot 'Microsoft.Web/sites/slots@2023-12-01' = {
  parent: site
  name: slotName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: identity
  properties: {
    // checkov:skip=CKV_AZURE_17:Event Grid delivers to the blobs webhook without a client certificate
    // checkov:skip=CKV_AZURE_212:one instance is enough to enqueue jobs; Event Grid retries deliveries for a day
    // checkov:skip=CKV_AZURE_213:the app has no anonymous health route to probe; the host's status endpoint needs the master key
    // checkov:skip=CKV_AZURE_222:Event Grid reaches the blobs webhook over the public endpoint
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      linuxFxVersion: 'Python|3.11'
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      remoteDebuggingEnabled: false
      appSettings: concat(sharedSettings, [
        {
          name: 'AzureFunctionsWebHost__hostid'
          value: slotHostId
        }
      ])
    }
  }
}

// the host id stays with its slot on a swap, so each slot keeps its own internal queue
resource stickySettings 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: site
  name: 'slotConfigNames'
  properties: {
    // checkov:skip=CKV_AZURE_13:names the slot-sticky settings only; the site's configuration is on the site and the slot
    // checkov:skip=CKV_AZURE_63:names the slot-sticky settings only; the site's configuration is on the site and the slot
    // checkov:skip=CKV_AZURE_65:names the slot-sticky settings only; the site's configuration is on the site and the slot
    // checkov:skip=CKV_AZURE_66:names the slot-sticky settings only; the site's configuration is on the site and the slot
    // checkov:skip=CKV_AZURE_80:names the slot-sticky settings only; the site's configuration is on the site and the slot
    // checkov:skip=CKV_AZURE_88:names the slot-sticky settings only; the site's configuration is on the site and the slot
    // checkov:skip=CKV_AZURE_222:names the slot-sticky settings only; the site's configuration is on the site and the slot
    appSettingNames: [
      'AzureFunctionsWebHost__hostid'
    ]
  }
}

resource siteAuth 'Microsoft.Web/sites/config@2023-12-01' = {
  // checkov:skip=CKV_AZURE_13:the authentication settings only, which checkov reads as a site; the site's configuration is on the site and the slot
  // checkov:skip=CKV_AZURE_63:the authentication settings only, which checkov reads as a site; the site's configuration is on the site and the slot
  // checkov:skip=CKV_AZURE_65:the authentication settings only, which checkov reads as a site; the site's configuration is on the site and the slot
  // checkov:skip=CKV_AZURE_66:the authentication settings only, which checkov reads as a site; the site's configuration is on the site and the slot
  // checkov:skip=CKV_AZURE_80:the authentication settings only, which checkov reads as a site; the site's configuration is on the site and the slot
  // checkov:skip=CKV_AZURE_88:the authentication settings only, which checkov reads as a site; the site's configuration is on the site and the slot
  // checkov:skip=CKV_AZURE_222:the authentication settings only, which checkov reads as a site; the site's configuration is on the site and the slot
  parent: site
  name: 'authsettingsV2'
  properties: authSettings
}

resource slotAuth 'Microsoft.Web/sites/slots/config@2023-12-01' = {
  parent: slot
  name: 'authsettingsV2'
  properties: authSettings
}

resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
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

resource slotDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${site.name}-${slot.name}-logs'
  scope: slot
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
output slotName string = slot.name
output defaultHostName string = site.properties.defaultHostName
