// The Function host's roles on its own account, each on a container or queue the host uses (created in
// storage-host.bicep): Blob Data Owner on its key and lease containers, Queue Data Contributor on the blob
// trigger's internal queues. The host's diagnostic-events table is named by month and gets no role; the host
// runs without it.

@description('Name of the host storage account.')
param hostAccountName string

@description('Containers the Functions host writes (keys and leases).')
param hostContainers array

@description('Internal queues of the blob trigger, one per slot.')
param hostQueues array

@description('Principal id of the Function app\'s identity.')
param functionPrincipalId string

// built-in role definition ids (tests/infra/roles.py lists the same ids by name)
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
}

resource host 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: host
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: host
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for container in hostContainers: {
  parent: blobService
  name: container
}]

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = [for queue in hostQueues: {
  parent: queueService
  name: queue
}]

resource containerOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (container, i) in hostContainers: {
  name: guid(containers[i].id, functionPrincipalId, roles.storageBlobDataOwner)
  scope: containers[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queue, i) in hostQueues: {
  name: guid(queues[i].id, functionPrincipalId, roles.storageQueueDataContributor)
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
  }
}]
