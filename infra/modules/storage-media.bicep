// The media account: uploads and outputs, the jobs queue and its poison queue, the blob trigger's poison queue and
// (recordsStore 'table') the job records. No shared keys, no anonymous access, TLS 1.2, versioning and soft delete,
// lifecycle rules, diagnostics to Log Analytics, optional private endpoints, and a CORS rule that lets the dashboard's
// page PUT an upload straight to the blob endpoint. Roles are granted in media-roles.bicep, each on one container,
// queue or table (the user delegation key's role alone is on the account).

@description('Name of the media account (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the account.')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Replication: Standard_GRS (or RAGRS) in production. The archive tier needs LRS, GRS or RAGRS.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param skuName string

@description('Container the uploads land in (the Function is triggered by its BlobCreated events).')
param uploadsContainer string

@description('Container of the packaged renditions (the Front Door origin).')
param outputsContainer string

@description('Container that receives the Event Grid deliveries that failed every retry.')
param deadLetterContainer string

@description('Jobs queue; its poison queue is `<name>-poison` (worker/settings.py).')
param jobsQueue string

@description('Poison queue of the blob trigger on the trigger\'s account (named by the Functions host).')
param triggerPoisonQueue string

@description('Job records table.')
param jobsTable string

@description('Create the jobs table here (recordsStore table); false when the records live in Cosmos DB.')
param createJobsTable bool

@description('Days after its last modification that a blob under outputs moves to the cool tier.')
@minValue(1)
param outputsCoolAfterDays int

@description('Days after its last modification that a blob under outputs moves to the archive tier (it must be rehydrated before Front Door can serve it again).')
@minValue(2)
param outputsArchiveAfterDays int

@description('Days after which test blobs (smoke/, perf/, e2e/, integration/, loadtest/ in uploads and outputs) are deleted.')
@minValue(1)
param testBlobsDeleteAfterDays int

@description('Days deleted blobs and containers can be restored.')
@minValue(1)
@maxValue(365)
param softDeleteDays int

@description('Days a blob version lives once a newer one exists.')
@minValue(1)
param versionRetentionDays int

@description('Log Analytics workspace that receives the diagnostics.')
param logAnalyticsWorkspaceId string

@description('Private endpoints for blob, queue and table; the public endpoint then denies all but trusted Azure services.')
param enablePrivateEndpoints bool

@description('Subnet of the private endpoints (required with enablePrivateEndpoints).')
param privateEndpointSubnetId string

@description('Private DNS zone id per service (keys blob, queue, table); a service without one gets no zone group.')
param privateDnsZoneIds object

@description('Browser origins that may PUT uploads to the blob endpoint with the upload SAS the dashboard API signs (https://<dashboard host>); empty: no CORS rule.')
param uploadCorsOrigins array

var testPrefixes = [
  'smoke/'
  'perf/'
  'e2e/'
  'integration/'
  'loadtest/'
]
var uploadTestPrefixes = [for prefix in testPrefixes: '${uploadsContainer}/${prefix}']
var outputTestPrefixes = [for prefix in testPrefixes: '${outputsContainer}/${prefix}']
var endpointServices = [
  'blob'
  'queue'
  'table'
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    // checkov:skip=CKV_AZURE_35:the default action is Deny with enablePrivateEndpoints; without them uploads arrive over the public endpoint
    // checkov:skip=CKV_AZURE_206:replication is the skuName parameter, Standard_GRS in the production files (tests/infra checks them)
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: enablePrivateEndpoints ? 'Deny' : 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    // the dashboard's uploads: a PUT Blob (or Put Block and Put Block List) with the SAS, preflighted by the browser
    cors: {
      corsRules: empty(uploadCorsOrigins) ? [] : [
        {
          allowedOrigins: uploadCorsOrigins
          allowedMethods: [
            'PUT'
            'OPTIONS'
          ]
          allowedHeaders: [
            'content-type'
            'x-ms-*'
          ]
          exposedHeaders: [
            'x-ms-request-id'
            'etag'
          ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for container in [uploadsContainer, outputsContainer, deadLetterContainer]: {
  parent: blobService
  name: container
  properties: {
    publicAccess: 'None'
  }
}]

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queue in [jobsQueue, '${jobsQueue}-poison', triggerPoisonQueue]: {
  parent: queueService
  name: queue
}]

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = if (createJobsTable) {
  parent: tableService
  name: jobsTable
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'outputs-to-cool-then-archive'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${outputsContainer}/'
              ]
            }
            actions: {
              baseBlob: {
                tierToCool: {
                  daysAfterModificationGreaterThan: outputsCoolAfterDays
                }
                tierToArchive: {
                  daysAfterModificationGreaterThan: outputsArchiveAfterDays
                }
              }
            }
          }
        }
        {
          name: 'delete-test-blobs'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: concat(uploadTestPrefixes, outputTestPrefixes)
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: testBlobsDeleteAfterDays
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: testBlobsDeleteAfterDays
                }
              }
            }
          }
        }
        {
          name: 'expire-old-versions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: versionRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${account.name}-metrics'
  scope: account
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${account.name}-blob'
  scope: blobService
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
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${account.name}-queue'
  scope: queueService
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
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${account.name}-table'
  scope: tableService
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
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2023-11-01' = [for service in endpointServices: if (enablePrivateEndpoints) {
  name: 'pe-${account.name}-${service}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: privateEndpointSubnetId
    }
    privateLinkServiceConnections: [
      {
        name: '${account.name}-${service}'
        properties: {
          privateLinkServiceId: account.id
          groupIds: [
            service
          ]
        }
      }
    ]
  }
}]

resource privateDnsZoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = [for (service, i) in endpointServices: if (enablePrivateEndpoints && contains(privateDnsZoneIds, service)) {
  parent: privateEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: service
        properties: {
          privateDnsZoneId: privateDnsZoneIds[service]
        }
      }
    ]
  }
}]

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output blobHost string = replace(replace(account.properties.primaryEndpoints.blob, 'https://', ''), '/', '')
