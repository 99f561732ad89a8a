// The subscription that wakes the approve function for the Private Link Services of one resource group.
param topicName string
param functionAppHostName string
@secure()
param eventGridExtensionKey string
param deadLetterStorageAccountId string
param deadLetterContainerName string

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: topicName
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'emqx-privatelink-approve'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        // The Functions host answers the validation handshake on this endpoint; `approve` is the function's stable name.
        endpointUrl: 'https://${functionAppHostName}/runtime/webhooks/eventgrid?functionName=approve&code=${eventGridExtensionKey}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Resources.ResourceWriteSuccess'
        'Microsoft.Resources.ResourceDeleteSuccess'
        'Microsoft.Resources.ResourceActionSuccess'
      ]
      subjectBeginsWith: '${subscription().id}/resourceGroups/${resourceGroup().name}/providers/Microsoft.Network/privateLinkServices'
      isSubjectCaseSensitive: false
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}
