// The AKS cluster: a system pool and a GPU pool that scales from zero, Entra ID with Azure RBAC, the OIDC issuer
// and workload identity (the worker and KEDA sign in without secrets), the KEDA add-on, managed Prometheus
// (azureMonitorProfile; the data collection rule is in cluster-monitoring.bicep) and Container insights.

@description('Cluster name.')
param name string

@description('Region of the cluster.')
param location string

@description('Tags of every resource (environment, service, owner, costCenter).')
param tags object

@description('Kubernetes version (empty: the region\'s default).')
param kubernetesVersion string

@description('Cluster tier: Standard (financially backed API server SLA) in production, Free elsewhere.')
@allowed([
  'Free'
  'Standard'
])
param skuTier string

@description('VM size of the system pool.')
param systemVmSize string

@description('Smallest and initial node count of the system pool.')
@minValue(1)
param systemMinNodes int

@description('Largest node count of the system pool.')
@minValue(1)
param systemMaxNodes int

@description('VM size of the GPU pool (an N-series size with NVENC, such as Standard_NC4as_T4_v3).')
param gpuVmSize string

@description('Largest node count of the GPU pool (it scales from zero).')
@minValue(1)
param gpuMaxNodes int

@description('CIDR ranges allowed to reach the API server (empty: any; the pipeline\'s hosted runners have no fixed range).')
param apiServerAuthorizedIpRanges array

@description('Encrypt temp disks and caches on the host (needs the EncryptionAtHost feature on the subscription).')
param encryptionAtHost bool

@description('Log Analytics workspace of Container insights and the diagnostics.')
param logAnalyticsWorkspaceId string

// helm/transcoder/values.yaml gpu.tolerations tolerates this taint (tests/infra checks that the two match). Its
// gpu.nodeSelector, kubernetes.azure.com/accelerator: nvidia, is a label AKS itself puts on GPU nodes: labels
// under kubernetes.azure.com are reserved and cannot be set in nodeLabels.
var gpuTaints = [
  'sku=gpu:NoSchedule'
]
var gpuLabels = {
  workload: 'transcode'
}

resource cluster 'Microsoft.ContainerService/managedClusters@2024-05-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Base'
    tier: skuTier
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    // checkov:skip=CKV_AZURE_8:the Kubernetes dashboard add-on no longer exists on supported AKS versions; nothing to disable
    // checkov:skip=CKV_AZURE_172:no Key Vault secrets reach the cluster (workload identity only), so the Secrets Store CSI add-on is off
    // checkov:skip=CKV_AZURE_227:encryption at host follows the encryptionAtHost parameter (true in the production files); it needs the subscription feature
    kubernetesVersion: empty(kubernetesVersion) ? null : kubernetesVersion
    dnsPrefix: name
    enableRBAC: true
    disableLocalAccounts: true
    aadProfile: {
      managed: true
      enableAzureRBAC: true
    }
    apiServerAccessProfile: {
      authorizedIPRanges: apiServerAuthorizedIpRanges
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    workloadAutoScalerProfile: {
      keda: {
        enabled: true
      }
    }
    azureMonitorProfile: {
      metrics: {
        enabled: true
      }
    }
    addonProfiles: {
      omsagent: {
        enabled: true
        config: {
          logAnalyticsWorkspaceResourceID: logAnalyticsWorkspaceId
          useAADAuth: 'true'
        }
      }
      azurepolicy: {
        enabled: true
      }
    }
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      networkDataplane: 'cilium'
      networkPolicy: 'cilium'
      loadBalancerSku: 'standard'
    }
    autoUpgradeProfile: {
      upgradeChannel: 'patch'
      nodeOSUpgradeChannel: 'NodeImage'
    }
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        vmSize: systemVmSize
        osType: 'Linux'
        osSKU: 'AzureLinux'
        osDiskType: 'Ephemeral'
        type: 'VirtualMachineScaleSets'
        count: systemMinNodes
        enableAutoScaling: true
        minCount: systemMinNodes
        maxCount: systemMaxNodes
        maxPods: 110
        enableEncryptionAtHost: encryptionAtHost
      }
      {
        name: 'gpu'
        mode: 'User'
        vmSize: gpuVmSize
        osType: 'Linux'
        osSKU: 'Ubuntu'
        osDiskType: 'Ephemeral'
        type: 'VirtualMachineScaleSets'
        count: 0
        enableAutoScaling: true
        minCount: 0
        maxCount: gpuMaxNodes
        maxPods: 50
        nodeTaints: gpuTaints
        nodeLabels: gpuLabels
        enableEncryptionAtHost: encryptionAtHost
      }
    ]
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: '${cluster.name}-logs'
  scope: cluster
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'kube-apiserver'
        enabled: true
      }
      {
        category: 'kube-audit-admin'
        enabled: true
      }
      {
        category: 'kube-controller-manager'
        enabled: true
      }
      {
        category: 'kube-scheduler'
        enabled: true
      }
      {
        category: 'cluster-autoscaler'
        enabled: true
      }
      {
        category: 'guard'
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

output id string = cluster.id
output name string = cluster.name
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL
output kubeletObjectId string = cluster.properties.identityProfile.kubeletidentity.objectId
