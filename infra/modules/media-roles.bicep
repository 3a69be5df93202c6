// Data roles on the media account, each on the one container, queue or table it is needed for (never on the
// account): the worker, the Function (its blob trigger and the dashboard API), KEDA and the pipeline's smoke and load
// tests. One exception: Storage Blob Delegator, which the Function needs for user delegation keys (its SAS links),
// exists only at the account (or a wider) scope, and grants no data access by itself.

@description('Name of the media storage account.')
param mediaAccountName string

@description('Container the uploads land in.')
param uploadsContainer string

@description('Container of the packages.')
param outputsContainer string

@description('Jobs queue; its poison queue is `<name>-poison`.')
param jobsQueue string

@description('Poison queue of the blob trigger.')
param triggerPoisonQueue string

@description('Job records table.')
param jobsTable string

@description('Grant the table roles here (recordsStore table); with Cosmos DB they are in cosmos-roles.bicep.')
param tableRoles bool

@description('Principal id of the worker\'s identity.')
param workerPrincipalId string

@description('Principal id of the Function app\'s identity.')
param functionPrincipalId string

@description('Principal id of the identity KEDA reads the queue length with.')
param kedaPrincipalId string

@description('Object id of the pipeline\'s identity (empty: no pipeline roles).')
param pipelinePrincipalId string

// built-in role definition ids (tests/infra/roles.py lists the same ids by name)
var roles = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925'
  storageQueueDataMessageProcessor: '8a0f0c08-91a1-4084-bc3d-661d67233fed'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}
var withPipeline = !empty(pipelinePrincipalId)

resource media 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: mediaAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: media
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: media
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: media
  name: 'default'
}

resource uploads 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: uploadsContainer
}

resource outputs 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: outputsContainer
}

resource jobs 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueService
  name: jobsQueue
}

resource poison 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueService
  name: '${jobsQueue}-poison'
}

resource triggerPoison 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueService
  name: triggerPoisonQueue
}

resource records 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: jobsTable
}

// the worker: reads uploads, writes outputs, leases and re-sends jobs, poisons, keeps the job records
resource workerUploadsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(uploads.id, workerPrincipalId, roles.storageBlobDataReader)
  scope: uploads
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerOutputsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outputs.id, workerPrincipalId, roles.storageBlobDataContributor)
  scope: outputs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerJobsProcessor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobs.id, workerPrincipalId, roles.storageQueueDataMessageProcessor)
  scope: jobs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageProcessor)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerJobsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobs.id, workerPrincipalId, roles.storageQueueDataMessageSender)
  scope: jobs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerPoisonSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poison.id, workerPrincipalId, roles.storageQueueDataMessageSender)
  scope: poison
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource workerRecordsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (tableRoles) {
  name: guid(records.id, workerPrincipalId, roles.storageTableDataContributor)
  scope: records
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// the Function: reads the uploaded blob's properties, sends the job (and a retried one), poisons failed events,
// writes the record; for the dashboard API it peeks the poison queue and signs user-delegation SAS links, which
// grant at most what the signer holds: read on outputs, create and write on uploads (the upload link)
resource functionUploadsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(uploads.id, functionPrincipalId, roles.storageBlobDataContributor)
  scope: uploads
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionOutputsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(outputs.id, functionPrincipalId, roles.storageBlobDataReader)
  scope: outputs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Get User Delegation Key is an account-level operation: the role exists at the account scope or wider only
resource functionDelegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(media.id, functionPrincipalId, roles.storageBlobDelegator)
  scope: media
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDelegator)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionPoisonReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poison.id, functionPrincipalId, roles.storageQueueDataReader)
  scope: poison
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataReader)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionJobsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobs.id, functionPrincipalId, roles.storageQueueDataMessageSender)
  scope: jobs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionTriggerPoison 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(triggerPoison.id, functionPrincipalId, roles.storageQueueDataContributor)
  scope: triggerPoison
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionRecordsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (tableRoles) {
  name: guid(records.id, functionPrincipalId, roles.storageTableDataContributor)
  scope: records
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// KEDA's operator: the queue length only
resource kedaJobsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobs.id, kedaPrincipalId, roles.storageQueueDataReader)
  scope: jobs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataReader)
    principalId: kedaPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// the pipeline: uploads test videos (smoke, load) and reads their packages
resource pipelineUploadsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withPipeline) {
  name: guid(uploads.id, pipelinePrincipalId, roles.storageBlobDataContributor)
  scope: uploads
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource pipelineOutputsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withPipeline) {
  name: guid(outputs.id, pipelinePrincipalId, roles.storageBlobDataReader)
  scope: outputs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}
