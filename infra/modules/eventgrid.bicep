// BlobCreated events of the uploads container, delivered to the Function. functions_app/function_app.py declares
// a blob trigger with source EventGrid (not an Event Grid trigger), so the destination is the blobs extension's
// webhook, https://<app>/runtime/webhooks/blobs?functionName=Host.Functions.<name>, keyed by the blobs_extension
// system key (an AzureFunction destination would only reach an Event Grid trigger). That key exists once the code
// has been deployed and indexed: deploy with enableSubscription false first, true after the first code deploy.
// Failed deliveries go to a dead-letter container, written with the system topic's own identity.

@description('System topic name.')
param topicName string

@description('Event subscription name.')
param subscriptionName string

@description('Region of the system topic (the media account\'s).')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Name of the media storage account (the event source).')
param mediaAccountName string

@description('Container the uploads land in: only its BlobCreated events are delivered.')
param uploadsContainer string

@description('Container of the media account that receives the undeliverable events.')
param deadLetterContainer string

@description('Function app name.')
param functionAppName string

@description('Name of the blob-triggered function (functions_app/function_app.py).')
param triggerFunctionName string

@description('Create the event subscription (the Function\'s code must be deployed first).')
param enableSubscription bool

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int

@description('Minutes an event is retried before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveMinutes int

@description('Log Analytics workspace that receives the diagnostics.')
param logAnalyticsWorkspaceId string

// built-in role definition ids (tests/infra/roles.py lists the same ids by name)
var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}

resource media 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: mediaAccountName
}

resource mediaBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: media
  name: 'default'
}

resource deadLetter 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: mediaBlobs
  name: deadLetterContainer
}

resource site 'Microsoft.Web/sites@2023-12-01' existing = {
  name: functionAppName
}

resource functionHost 'Microsoft.Web/sites/host@2023-12-01' existing = {
  parent: site
  name: 'default'
}

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: topicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: media.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetter.id, topic.id, roles.storageBlobDataContributor)
  scope: deadLetter
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource uploadsToFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (enableSubscription) {
  parent: topic
  name: subscriptionName
  dependsOn: [
    deadLetterWriter
  ]
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${site.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${triggerFunctionName}&code=${functionHost.listKeys().systemKeys.blobs_extension}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      subjectBeginsWith: '/blobServices/default/containers/${uploadsContainer}/'
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      // skips the empty CreateFile event of hierarchical-namespace accounts (functions_app/README.md)
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: [
            'PutBlob'
            'PutBlockList'
            'CopyBlob'
            'FlushWithClose'
          ]
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: media.id
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${topic.name}-logs'
  scope: topic
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

output topicName string = topic.name
