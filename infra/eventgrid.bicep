// The Event Grid subscription that delivers BlobCreated events in `images` to the blob trigger.
//
// It is a separate deployment, run by the deploy workflow after the code is deployed, because
// its endpoint carries the `blobs_extension` system key, which exists only once the Functions
// host has started with the blob trigger loaded, and because Event Grid validates the endpoint
// when the subscription is created. It is Bicep rather than an az CLI call so that the filter,
// schema and retry policy are reviewed, compiled by `az bicep build` and redeployed like the rest
// of the infrastructure. The workflow reads the key at deploy time and passes it as a secure
// parameter: it is never stored in the repository, in GitHub or in the deployment history.
targetScope = 'resourceGroup'

@description('Name of the storage account\'s Event Grid system topic (output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME).')
param systemTopicName string

@description('Name of the function app (output AZURE_FUNCTION_APP_NAME).')
param functionAppName string

@secure()
@description('The function app\'s blobs_extension system key.')
param blobsExtensionKey string

@description('Name of the blob-trigger function, as registered by the Python v2 programming model.')
param functionName string = 'process_image'

@description('Container whose new blobs trigger the function (fixed, as main.bicep\'s imagesContainerName).')
@allowed([
  'images'
])
param containerName string = 'images'

param subscriptionName string = 'images-to-process-image'

@description('Container of the system topic\'s storage account for events that could not be delivered (main.bicep\'s deadLetterContainerName).')
param deadLetterContainerName string = 'deadletter'

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource blobCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: subscriptionName
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${blobsExtensionKey}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${containerName}/blobs/'
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    // Past the retry policy, or on an answer Event Grid does not retry (400, 401, 403, 413), the
    // event is written to the dead-letter container with the topic's own identity instead of
    // being dropped (infra/modules/systemtopic.bicep grants it that container only).
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: systemTopic.properties.source
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output EVENT_SUBSCRIPTION_NAME string = blobCreated.name
