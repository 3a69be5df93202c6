// One regional stack of the transcoder: media and host storage, the job records (Azure Table or Cosmos DB for
// Table), the AKS cluster with its GPU pool, KEDA, workload identity and managed Prometheus, the registry, the
// Function app with its staging slot, the Event Grid subscription that feeds it, Front Door over the outputs, the
// operators' dashboard (a static web app whose /api is the Function app), and monitoring, alerts and cost controls.
// Deployed to an existing resource group (targetScope resourceGroup): the group is the unit of a region's stack and
// of its budget; the cost anomaly alert alone is a subscription-scope module. Names come from namePrefix,
// environmentName and regionShort, plus uniqueString(resourceGroup().id) where Azure needs a globally unique name.
// Parameter files: infra/params/*.parameters.json.
targetScope = 'resourceGroup'

@description('Prefix of every name (letters, digits and hyphens).')
@minLength(3)
@maxLength(16)
param namePrefix string = 'transcoder'

@description('Environment of this stack.')
@allowed([
  'dev'
  'staging'
  'production'
])
param environmentName string

@description('Short name of the region, used in names (eus, weu, sea).')
@minLength(2)
@maxLength(4)
param regionShort string

@description('Region of every regional resource.')
param location string = resourceGroup().location

@description('Value of the service tag.')
param serviceName string = 'video-transcoder'

@description('Value of the owner tag (the team that runs the stack).')
param owner string

@description('Value of the costCenter tag.')
param costCenter string

@description('Where the job records live: an Azure Table in the media account (table) or Cosmos DB for Table (cosmos, the production choice).')
@allowed([
  'table'
  'cosmos'
])
param recordsStore string = 'table'

@description('Further Cosmos DB regions, in failover order (recordsStore cosmos).')
param cosmosFailoverLocations array = []

@description('Multi-region writes for Cosmos DB (needs a failover region).')
param cosmosMultiRegionWrites bool = false

@description('Replication of the media account: Standard_GRS in production.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param mediaStorageSku string = 'Standard_LRS'

@description('Container the uploads land in.')
param uploadsContainer string = 'uploads'

@description('Container of the packages.')
param outputsContainer string = 'outputs'

@description('Container of undeliverable Event Grid events.')
param deadLetterContainer string = 'eventgrid-deadletter'

@description('Jobs queue (the poison queue is <name>-poison).')
param jobsQueue string = 'transcode-jobs'

@description('Poison queue of the blob trigger (named by the Functions host).')
param triggerPoisonQueue string = 'webjobs-blobtrigger-poison'

@description('Job records table.')
param jobsTable string = 'jobs'

@description('Days before an output blob moves to the cool tier.')
param outputsCoolAfterDays int = 30

@description('Days before an output blob moves to the archive tier.')
param outputsArchiveAfterDays int = 180

@description('Days before blobs under the test prefixes (smoke/, perf/, e2e/, integration/, loadtest/) are deleted.')
param testBlobsDeleteAfterDays int = 3

@description('Days deleted blobs and containers can be restored.')
param softDeleteDays int = 14

@description('Days a superseded blob version is kept.')
param versionRetentionDays int = 30

@description('Private endpoints for the media account\'s blob, queue and table services.')
param enablePrivateEndpoints bool = false

@description('Subnet of the private endpoints.')
param privateEndpointSubnetId string = ''

@description('Private DNS zone id per service (keys blob, queue, table).')
param privateDnsZoneIds object = {}

@description('Kubernetes version (empty: the region\'s default).')
param kubernetesVersion string = ''

@description('AKS tier: Standard in production.')
@allowed([
  'Free'
  'Standard'
])
param aksSkuTier string = 'Free'

@description('VM size of the system pool.')
param systemVmSize string = 'Standard_D4ds_v5'

@description('Smallest node count of the system pool.')
param systemMinNodes int = 2

@description('Largest node count of the system pool.')
param systemMaxNodes int = 4

@description('VM size of the GPU pool.')
param gpuVmSize string = 'Standard_NC4as_T4_v3'

@description('Largest node count of the GPU pool.')
param gpuMaxNodes int = 2

@description('CIDR ranges allowed to reach the API server (empty: any).')
param apiServerAuthorizedIpRanges array = []

@description('Encryption at host on every node pool (needs the subscription\'s EncryptionAtHost feature).')
param encryptionAtHost bool = false

@description('Namespace the chart is installed in.')
param workerNamespace string = 'media'

@description('The worker\'s ServiceAccounts, one per blue/green slot (helm/transcoder: <release>, the release named transcoder-<slot>).')
param workerServiceAccounts array = [
  'transcoder-blue'
  'transcoder-green'
]

@description('Namespace and ServiceAccount of the KEDA add-on\'s operator.')
param kedaOperator object = {
  namespace: 'kube-system'
  serviceAccount: 'keda-operator'
}

@description('Registry tier (Premium for the untagged-manifest retention policy).')
@allowed([
  'Standard'
  'Premium'
])
param registrySku string = 'Premium'

@description('Days an untagged manifest is kept.')
param untaggedRetentionDays int = 7

@description('Plan of the Function app (dedicated Linux, with slots).')
@allowed([
  'P0v3'
  'P1v3'
  'P2v3'
  'P3v3'
])
param functionPlanSku string = 'P1v3'

@description('The Function app\'s deployment slot.')
@maxLength(9)
param functionSlotName string = 'staging'

@description('Name of the blob-triggered function (functions_app/function_app.py).')
param triggerFunctionName string = 'enqueue_transcode'

@description('Subscribe the Function to the uploads container (after its first code deploy).')
param enableBlobEvents bool = false

@description('Event Grid delivery attempts before dead-lettering.')
param eventMaxDeliveryAttempts int = 30

@description('Minutes Event Grid retries an event.')
param eventTimeToLiveMinutes int = 1440

@description('Front Door tier.')
@allowed([
  'Standard_AzureFrontDoor'
  'Premium_AzureFrontDoor'
])
param frontDoorSku string = 'Standard_AzureFrontDoor'

@description('Host of a second Front Door origin at priority 2 (empty: none); the disaster-recovery drill fails over to it.')
param frontDoorSecondaryOriginHost string = ''

@description('Application (client) id of the Entra ID app registration the dashboard signs in with: the static web app\'s sign-in and the Function app\'s App Service Authentication both use it, and its app role `admin` may upload and retry. Given at deploy time (DASHBOARD_CLIENT_ID), never in a file; its client secret is a setting of the static web app only (scripts/deploy/dashboard_deploy.sh), never in a template.')
param dashboardClientId string

@description('Entra ID tenant of that app registration (default: the subscription\'s).')
param dashboardTenantId string = subscription().tenantId

@description('Region of the dashboard\'s static web app resource: Static Web Apps exist in a few regions only (tests/infra/paramfiles.py lists them), and serve the content from their global edge wherever the resource is.')
param dashboardLocation string

@description('Links the dashboard API returns are plain URLs under the Front Door endpoint (PLAYBACK_BASE_URL), which in-browser HLS and DASH playback needs; false: short-lived SAS links, which work before Front Door may read the outputs container.')
param playbackViaFrontDoor bool = true

@description('Days the Log Analytics workspace keeps logs.')
param logRetentionDays int = 30

@description('Address the alerts, the budget and the cost anomaly report notify.')
param alertEmail string

@description('Minutes a fired Prometheus alert stays open after it stops matching.')
param alertResolveAfterMinutes int = 10

@description('Monthly budget of the resource group, in the billing currency.')
param monthlyBudget int = 1000

@description('Start of the budget: the first day of the current month.')
param budgetStartDate string = utcNow('yyyy-MM-01')

@description('Deploy the subscription-scope cost anomaly alert (needs Cost Management Contributor on the subscription).')
param deployCostAnomalyAlert bool = false

@description('First day of the cost anomaly check.')
param costAnomalyStartDate string = utcNow('yyyy-MM-dd')

@description('Last day of the cost anomaly check.')
param costAnomalyEndDate string = dateTimeAdd(utcNow(), 'P1Y', 'yyyy-MM-dd')

@description('Object id of the deploying pipeline\'s identity (empty: no pipeline roles).')
param pipelinePrincipalId string = ''

var tags = {
  environment: environmentName
  service: serviceName
  owner: owner
  costCenter: costCenter
}
var envShort = {
  dev: 'dev'
  staging: 'stg'
  production: 'prod'
}
var stem = '${namePrefix}-${envShort[environmentName]}-${regionShort}'
var unique = take(uniqueString(resourceGroup().id), 6)
var compactPrefix = take(toLower(replace(namePrefix, '-', '')), 8)
var compactStem = '${compactPrefix}${envShort[environmentName]}${regionShort}'
var hostId = '${compactStem}${unique}'
var slotHostId = take('${hostId}-${functionSlotName}', 32)
var hostContainers = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
]
var hostQueues = [
  'azure-webjobs-blobtrigger-${hostId}'
  'azure-webjobs-blobtrigger-${slotHostId}'
]
var useCosmos = recordsStore == 'cosmos'
var names = {
  media: 'st${compactStem}${unique}'
  host: 'fn${compactStem}${unique}'
  cosmos: 'cosmos-${stem}-${unique}'
  registry: 'cr${compactStem}${unique}'
  cluster: 'aks-${stem}'
  plan: 'plan-${stem}'
  functionApp: 'func-${stem}-${unique}'
  workerIdentity: 'id-${stem}-worker'
  kedaIdentity: 'id-${stem}-keda'
  functionIdentity: 'id-${stem}-func'
  logAnalytics: 'log-${stem}'
  appInsights: 'appi-${stem}'
  monitorWorkspace: 'amw-${stem}'
  actionGroup: 'ag-${stem}'
  budget: 'budget-${stem}'
  eventTopic: 'evgt-${stem}-media'
  eventSubscription: 'evgs-${stem}-uploads'
  frontDoor: 'afd-${stem}'
  frontDoorEndpoint: 'fde-${stem}'
  originGroup: 'og-${stem}-outputs'
  origin: 'origin-${stem}-outputs'
  route: 'route-${stem}-outputs'
  collectionEndpoint: 'dce-${stem}'
  prometheusRule: 'dcr-${stem}-prometheus'
  containerInsightsRule: 'dcr-${stem}-containers'
  ruleGroupPrefix: 'prg-${stem}'
  costAnomaly: 'anomaly-${stem}'
  dashboard: 'stapp-${stem}'
  dashboardLink: 'link-${stem}-api'
}
var recordsTableEndpoint = useCosmos ? cosmos.outputs.tableEndpoint : media.outputs.tableEndpoint
var dashboardOrigin = 'https://${dashboard.outputs.hostName}'

module monitoring 'modules/monitoring.bicep' = {
  name: '${deployment().name}-monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    monitorWorkspaceName: names.monitorWorkspace
    actionGroupName: names.actionGroup
    actionGroupShortName: take('${compactPrefix}${envShort[environmentName]}', 12)
    budgetName: names.budget
    location: location
    tags: tags
    logRetentionDays: logRetentionDays
    alertEmail: alertEmail
    monthlyBudget: monthlyBudget
    budgetStartDate: budgetStartDate
  }
}

module identities 'modules/identities.bicep' = {
  name: '${deployment().name}-identities'
  params: {
    workerIdentityName: names.workerIdentity
    kedaIdentityName: names.kedaIdentity
    functionIdentityName: names.functionIdentity
    location: location
    tags: tags
  }
}

module media 'modules/storage-media.bicep' = {
  name: '${deployment().name}-media'
  params: {
    name: names.media
    location: location
    tags: tags
    skuName: mediaStorageSku
    uploadsContainer: uploadsContainer
    outputsContainer: outputsContainer
    deadLetterContainer: deadLetterContainer
    jobsQueue: jobsQueue
    triggerPoisonQueue: triggerPoisonQueue
    jobsTable: jobsTable
    createJobsTable: !useCosmos
    outputsCoolAfterDays: outputsCoolAfterDays
    outputsArchiveAfterDays: outputsArchiveAfterDays
    testBlobsDeleteAfterDays: testBlobsDeleteAfterDays
    softDeleteDays: softDeleteDays
    versionRetentionDays: versionRetentionDays
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    enablePrivateEndpoints: enablePrivateEndpoints
    privateEndpointSubnetId: privateEndpointSubnetId
    privateDnsZoneIds: privateDnsZoneIds
    uploadCorsOrigins: [
      dashboardOrigin
    ]
  }
}

module hostStorage 'modules/storage-host.bicep' = {
  name: '${deployment().name}-host-storage'
  params: {
    name: names.host
    location: location
    tags: tags
    hostContainers: hostContainers
    hostQueues: hostQueues
    softDeleteDays: softDeleteDays
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module cosmos 'modules/cosmos.bicep' = if (useCosmos) {
  name: '${deployment().name}-cosmos'
  params: {
    name: names.cosmos
    location: location
    failoverLocations: cosmosFailoverLocations
    multiRegionWrites: cosmosMultiRegionWrites
    jobsTable: jobsTable
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module registry 'modules/acr.bicep' = {
  name: '${deployment().name}-registry'
  params: {
    name: names.registry
    location: location
    tags: tags
    skuName: registrySku
    untaggedRetentionDays: untaggedRetentionDays
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module aks 'modules/aks.bicep' = {
  name: '${deployment().name}-aks'
  params: {
    name: names.cluster
    location: location
    tags: tags
    kubernetesVersion: kubernetesVersion
    skuTier: aksSkuTier
    systemVmSize: systemVmSize
    systemMinNodes: systemMinNodes
    systemMaxNodes: systemMaxNodes
    gpuVmSize: gpuVmSize
    gpuMaxNodes: gpuMaxNodes
    apiServerAuthorizedIpRanges: apiServerAuthorizedIpRanges
    encryptionAtHost: encryptionAtHost
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module workloadIdentity 'modules/workload-identity.bicep' = {
  name: '${deployment().name}-workload-identity'
  params: {
    workerIdentityName: identities.outputs.workerName
    kedaIdentityName: identities.outputs.kedaName
    oidcIssuerUrl: aks.outputs.oidcIssuerUrl
    workerNamespace: workerNamespace
    workerServiceAccounts: workerServiceAccounts
    kedaNamespace: kedaOperator.namespace
    kedaServiceAccount: kedaOperator.serviceAccount
  }
}

module clusterAccess 'modules/cluster-access.bicep' = {
  name: '${deployment().name}-cluster-access'
  params: {
    clusterName: aks.outputs.name
    registryName: registry.outputs.name
    kubeletObjectId: aks.outputs.kubeletObjectId
    pipelinePrincipalId: pipelinePrincipalId
    deployNamespace: workerNamespace
  }
}

module clusterMonitoring 'modules/cluster-monitoring.bicep' = {
  name: '${deployment().name}-cluster-monitoring'
  params: {
    clusterName: aks.outputs.name
    monitorWorkspaceName: monitoring.outputs.monitorWorkspaceName
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    endpointName: names.collectionEndpoint
    prometheusRuleName: names.prometheusRule
    containerInsightsRuleName: names.containerInsightsRule
    pipelinePrincipalId: pipelinePrincipalId
    functionPrincipalId: identities.outputs.functionPrincipalId
    location: location
    tags: tags
  }
}

module alerts 'modules/prometheus-alerts.bicep' = {
  name: '${deployment().name}-alerts'
  params: {
    ruleGroupPrefix: names.ruleGroupPrefix
    location: location
    tags: tags
    clusterName: aks.outputs.name
    clusterId: aks.outputs.id
    monitorWorkspaceId: monitoring.outputs.monitorWorkspaceId
    actionGroupId: monitoring.outputs.actionGroupId
    resolveAfterMinutes: alertResolveAfterMinutes
  }
}

module functionApp 'modules/function.bicep' = {
  name: '${deployment().name}-function'
  params: {
    planName: names.plan
    appName: names.functionApp
    slotName: functionSlotName
    location: location
    tags: tags
    planSku: functionPlanSku
    identityId: identities.outputs.functionId
    identityClientId: identities.outputs.functionClientId
    hostStorageName: hostStorage.outputs.name
    productionHostId: hostId
    slotHostId: slotHostId
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    mediaBlobEndpoint: media.outputs.blobEndpoint
    mediaQueueEndpoint: media.outputs.queueEndpoint
    recordsTableEndpoint: recordsTableEndpoint
    uploadsContainer: uploadsContainer
    outputsContainer: outputsContainer
    jobsQueue: jobsQueue
    jobsTable: jobsTable
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    dashboardOrigin: dashboardOrigin
    playbackBaseUrl: playbackViaFrontDoor ? 'https://${frontDoor.outputs.hostName}' : ''
    prometheusQueryEndpoint: monitoring.outputs.prometheusQueryEndpoint
    entraClientId: dashboardClientId
    entraTenantId: dashboardTenantId
  }
}

// the static web app first (the Function's settings name its host), the link to the Function after both
module dashboard 'modules/dashboard.bicep' = {
  name: '${deployment().name}-dashboard'
  params: {
    name: names.dashboard
    location: dashboardLocation
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module dashboardLink 'modules/dashboard-link.bicep' = {
  name: '${deployment().name}-dashboard-link'
  params: {
    name: names.dashboardLink
    staticSiteName: dashboard.outputs.name
    functionAppName: functionApp.outputs.name
  }
}

module mediaRoles 'modules/media-roles.bicep' = {
  name: '${deployment().name}-media-roles'
  params: {
    mediaAccountName: media.outputs.name
    uploadsContainer: uploadsContainer
    outputsContainer: outputsContainer
    jobsQueue: jobsQueue
    triggerPoisonQueue: triggerPoisonQueue
    jobsTable: jobsTable
    tableRoles: !useCosmos
    workerPrincipalId: identities.outputs.workerPrincipalId
    functionPrincipalId: identities.outputs.functionPrincipalId
    kedaPrincipalId: identities.outputs.kedaPrincipalId
    pipelinePrincipalId: pipelinePrincipalId
  }
}

module hostRoles 'modules/host-roles.bicep' = {
  name: '${deployment().name}-host-roles'
  params: {
    hostAccountName: hostStorage.outputs.name
    hostContainers: hostContainers
    hostQueues: hostQueues
    functionPrincipalId: identities.outputs.functionPrincipalId
  }
}

module cosmosRoles 'modules/cosmos-roles.bicep' = if (useCosmos) {
  name: '${deployment().name}-cosmos-roles'
  params: {
    accountName: cosmos.outputs.name
    jobsTable: jobsTable
    writerPrincipalIds: [
      identities.outputs.workerPrincipalId
      identities.outputs.functionPrincipalId
    ]
  }
}

module events 'modules/eventgrid.bicep' = {
  name: '${deployment().name}-events'
  dependsOn: [
    mediaRoles
    hostRoles
  ]
  params: {
    topicName: names.eventTopic
    subscriptionName: names.eventSubscription
    location: location
    tags: tags
    mediaAccountName: media.outputs.name
    uploadsContainer: uploadsContainer
    deadLetterContainer: deadLetterContainer
    functionAppName: functionApp.outputs.name
    triggerFunctionName: triggerFunctionName
    enableSubscription: enableBlobEvents
    maxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveMinutes: eventTimeToLiveMinutes
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module frontDoor 'modules/frontdoor.bicep' = {
  name: '${deployment().name}-front-door'
  params: {
    profileName: names.frontDoor
    endpointName: names.frontDoorEndpoint
    originGroupName: names.originGroup
    originName: names.origin
    routeName: names.route
    skuName: frontDoorSku
    originHostName: media.outputs.blobHost
    secondaryOriginHostName: frontDoorSecondaryOriginHost
    outputsContainer: outputsContainer
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module costAnomaly 'modules/cost-anomaly.bicep' = if (deployCostAnomalyAlert) {
  name: '${deployment().name}-cost-anomaly'
  scope: subscription()
  params: {
    name: names.costAnomaly
    alertEmail: alertEmail
    startDate: costAnomalyStartDate
    endDate: costAnomalyEndDate
  }
}

output mediaStorageAccountName string = media.outputs.name
output hostStorageAccountName string = hostStorage.outputs.name
output jobsQueueName string = jobsQueue
output jobsTableName string = jobsTable
output recordsStore string = recordsStore
output recordsTableEndpoint string = recordsTableEndpoint
output workloadClientId string = identities.outputs.workerClientId
output kedaClientId string = identities.outputs.kedaClientId
output aksName string = aks.outputs.name
output acrLoginServer string = registry.outputs.loginServer
output functionAppName string = functionApp.outputs.name
output frontDoorHostName string = frontDoor.outputs.hostName
output prometheusQueryEndpoint string = monitoring.outputs.prometheusQueryEndpoint
output cosmosAccountName string = useCosmos ? cosmos.outputs.name : ''
output registryName string = registry.outputs.name
output frontDoorProfileName string = frontDoor.outputs.profileName
output frontDoorEndpointName string = frontDoor.outputs.endpointName
output frontDoorOriginGroupName string = frontDoor.outputs.originGroupName
output frontDoorOriginName string = frontDoor.outputs.originName
output logAnalyticsWorkspaceId string = monitoring.outputs.logAnalyticsId
output dashboardName string = dashboard.outputs.name
output dashboardHostName string = dashboard.outputs.hostName
output dashboardClientId string = dashboardClientId
output dashboardTenantId string = dashboardTenantId
