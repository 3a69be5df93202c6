// A cost anomaly alert (Cost Management InsightAlert) on the subscription: anomalies exist per subscription only,
// so this module has subscription scope. main.bicep deploys it with deployCostAnomalyAlert, which needs Cost
// Management Contributor on the subscription; otherwise create it once with the same file:
// az deployment sub create --location <region> --template-file infra/modules/cost-anomaly.bicep --parameters ...
targetScope = 'subscription'

@description('Alert name.')
param name string

@description('Address the anomaly report is sent to.')
param alertEmail string

@description('First day of the daily check (yyyy-MM-dd).')
param startDate string

@description('Last day of the daily check (yyyy-MM-dd).')
param endDate string

resource anomalyAlert 'Microsoft.CostManagement/scheduledActions@2023-08-01' = {
  name: name
  kind: 'InsightAlert'
  properties: {
    displayName: name
    status: 'Enabled'
    viewId: subscriptionResourceId('Microsoft.CostManagement/views', 'ms:DailyAnomalyByResourceGroup')
    notificationEmail: alertEmail
    notification: {
      to: [
        alertEmail
      ]
      subject: 'Cost anomaly in subscription ${subscription().displayName}'
    }
    schedule: {
      frequency: 'Daily'
      startDate: startDate
      endDate: endDate
    }
  }
}

output id string = anomalyAlert.id
