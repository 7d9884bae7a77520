// The whole imageauth deployment except the Event Grid subscription (see eventgrid.bicep).
//
// Scope: one resource group. The group is created once by hand (docs/deploy.md), so the
// deploying identity needs rights on that group only, never on the subscription.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(32)
@description('Name of the environment (for example prod); it feeds the naming token and the tags.')
param environmentName string

@description('Region of every resource except the static web app.')
param location string = resourceGroup().location

@description('Region of the static web app; the Free tier exists in these regions only.')
@allowed([
  'centralus'
  'eastasia'
  'eastus2'
  'westeurope'
  'westus2'
])
param staticWebAppLocation string = 'westeurope'

// Every name can be overridden; an empty value means "derive it from the naming token".
param identityName string = ''
param storageAccountName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
param appServicePlanName string = ''
param functionAppName string = ''
param staticWebAppName string = ''
param systemTopicName string = ''

@description('Python version of the function app; it must match requires-python in pyproject.toml.')
@allowed([
  '3.11'
])
param pythonVersion string = '3.11'

@description('Memory of one Flex Consumption instance; 2048 MB gives one vCPU, 4096 MB two.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on instances, which caps the cost of a traffic spike.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 10

@description('Container that Flex Consumption deploys the code package to.')
param deploymentContainerName string = 'deployment'

// The two names are fixed: the function app's code names them (function_app.py's trigger path
// `images/{name}`, imageauth.blob.RESULTS_CONTAINER), so an override here would deploy containers
// that nothing reads or writes.
@description('Container whose new blobs the process_image function classifies (fixed: the code names it).')
@allowed([
  'images'
])
param imagesContainerName string = 'images'

@description('Container that process_image writes its results to (fixed: the code names it).')
@allowed([
  'results'
])
param resultsContainerName string = 'results'

@description('Container where Event Grid writes the BlobCreated events it could not deliver (dead letters).')
param deadLetterContainerName string = 'deadletter'

@description('Days after which uploaded images and their results are deleted.')
@minValue(1)
param uploadRetentionDays int = 7

@description('Largest accepted image file, in bytes (IMAGEAUTH_MAX_BYTES).')
param maxBytes int = 20971520

@description('Largest accepted request body, in bytes (IMAGEAUTH_MAX_REQUEST_BYTES).')
param maxRequestBytes int = 67108864

@description('Most images in one request (IMAGEAUTH_MAX_FILES).')
param maxFiles int = 16

@description('Most pixels in one image, checked before decoding (IMAGEAUTH_MAX_PIXELS).')
param maxPixels int = 50000000

@description('LiteRT threads per worker process (IMAGEAUTH_NUM_THREADS); 0 means 1, the instance\'s vCPUs being used by one worker process each (FUNCTIONS_WORKER_PROCESS_COUNT), which measured faster than threads (docs/serving.md).')
@minValue(0)
param numThreads int = 0

@description('Memory one image\'s decode may hold, in bytes (IMAGEAUTH_MAX_DECODE_BYTES); more is refused with 413 decode_too_large.')
param maxDecodeBytes int = 268435456

@description('Decode memory the requests of one instance may hold at once, in bytes, shared by its worker processes (IMAGEAUTH_DECODE_BUDGET_BYTES); 0 means half the instance memory.')
@minValue(0)
param decodeBudgetBytes int = 0

@description('Seconds a request waits for room in the decode budget before a 503 with Retry-After (IMAGEAUTH_ADMISSION_WAIT_S).')
param admissionWaitSeconds string = '2'

@description('Seconds to decode and score the files of one request before a 503 (IMAGEAUTH_REQUEST_DEADLINE_S).')
param requestDeadlineSeconds string = '30'

@description('Decision threshold override (IMAGEAUTH_THRESHOLD); empty keeps the model card\'s threshold.')
param threshold string = ''

@description('Model folder override (IMAGEAUTH_MODEL_DIR); empty serves the model bundled with the code.')
param modelDir string = ''

@description('Unsure band low override (IMAGEAUTH_UNSURE_LOW, a number in [0, 1]); empty keeps the model card\'s band.')
param unsureLow string = ''

@description('Unsure band high override (IMAGEAUTH_UNSURE_HIGH, a number in [0, 1]); empty keeps the model card\'s band.')
param unsureHigh string = ''

@description('PEM file of C2PA trust anchors, a path inside the package (IMAGEAUTH_C2PA_TRUST_ANCHORS); empty trusts no signer. See docs/evidence.md.')
param c2paTrustAnchors string = ''

@description('Origins allowed to call the API besides the static web app, for example a custom domain. Never "*".')
param extraAllowedOrigins array = []

@description('Daily ingestion cap of the Log Analytics workspace in GB; -1 removes the cap.')
param logDailyCapGb int = 1

@description('Object (principal) id of the deploying identity. When set, it gets Blob Data Contributor on the images and results containers, so the deploy workflow can test the blob trigger end to end; empty: no data access, and the workflow skips that test.')
param smokeTestPrincipalId string = ''

// One token makes every derived name unique per resource group and environment.
var resourceToken = toLower(uniqueString(resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  application: 'imageauth'
}
var names = {
  identity: !empty(identityName) ? identityName : 'id-${resourceToken}'
  storage: !empty(storageAccountName) ? storageAccountName : 'st${resourceToken}'
  logAnalytics: !empty(logAnalyticsName) ? logAnalyticsName : 'log-${resourceToken}'
  applicationInsights: !empty(applicationInsightsName) ? applicationInsightsName : 'appi-${resourceToken}'
  plan: !empty(appServicePlanName) ? appServicePlanName : 'plan-${resourceToken}'
  functionApp: !empty(functionAppName) ? functionAppName : 'func-${resourceToken}'
  staticWebApp: !empty(staticWebAppName) ? staticWebAppName : 'stapp-${resourceToken}'
  systemTopic: !empty(systemTopicName) ? systemTopicName : 'evgt-${resourceToken}'
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: tags
    containerNames: [
      deploymentContainerName
      imagesContainerName
      resultsContainerName
      deadLetterContainerName
    ]
    expiringContainerNames: [
      imagesContainerName
      resultsContainerName
      deadLetterContainerName
    ]
    retentionDays: uploadRetentionDays
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: tags
    dailyCapGb: logDailyCapGb
  }
}

module staticWebApp 'modules/staticwebapp.bicep' = {
  name: 'staticwebapp'
  params: {
    name: names.staticWebApp
    location: staticWebAppLocation
    tags: tags
  }
}

// The blob-trigger connection IMAGEAUTH_STORAGE and the host storage AzureWebJobsStorage both use
// the user-assigned identity: endpoints and a client id, never a key.
var storageConnection = {
  IMAGEAUTH_STORAGE__blobServiceUri: storage.outputs.blobEndpoint
  IMAGEAUTH_STORAGE__queueServiceUri: storage.outputs.queueEndpoint
  IMAGEAUTH_STORAGE__credential: 'managedidentity'
  IMAGEAUTH_STORAGE__clientId: identity.outputs.clientId
}
var hostStorage = {
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
}
// The connection string holds only the instrumentation key and endpoints; ingestion is
// authenticated with the identity (local authentication is off on the component).
var monitoringSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
}
var limitSettings = {
  IMAGEAUTH_MAX_BYTES: string(maxBytes)
  IMAGEAUTH_MAX_REQUEST_BYTES: string(maxRequestBytes)
  IMAGEAUTH_MAX_FILES: string(maxFiles)
  IMAGEAUTH_MAX_PIXELS: string(maxPixels)
  IMAGEAUTH_NUM_THREADS: string(numThreads > 0 ? numThreads : 1)
  // One Python worker process per vCPU (2048 MB: 1, 4096 MB: 2); each runs LiteRT on one thread.
  FUNCTIONS_WORKER_PROCESS_COUNT: string(max(1, instanceMemoryMB / 2048))
  // The decode budget of docs/reliability.md ("Budgets"): the instance's (half its memory unless set);
  // the code divides it among the worker processes (FUNCTIONS_WORKER_PROCESS_COUNT).
  IMAGEAUTH_MAX_DECODE_BYTES: string(maxDecodeBytes)
  IMAGEAUTH_DECODE_BUDGET_BYTES: string(decodeBudgetBytes > 0 ? decodeBudgetBytes : instanceMemoryMB * 1048576 / 2)
  IMAGEAUTH_ADMISSION_WAIT_S: admissionWaitSeconds
  IMAGEAUTH_REQUEST_DEADLINE_S: requestDeadlineSeconds
}
// Optional overrides are set only when given, so that the code's own defaults apply otherwise.
var thresholdSetting = empty(threshold) ? {} : {
  IMAGEAUTH_THRESHOLD: threshold
}
var modelDirSetting = empty(modelDir) ? {} : {
  IMAGEAUTH_MODEL_DIR: modelDir
}
var unsureLowSetting = empty(unsureLow) ? {} : {
  IMAGEAUTH_UNSURE_LOW: unsureLow
}
var unsureHighSetting = empty(unsureHigh) ? {} : {
  IMAGEAUTH_UNSURE_HIGH: unsureHigh
}
var trustAnchorsSetting = empty(c2paTrustAnchors) ? {} : {
  IMAGEAUTH_C2PA_TRUST_ANCHORS: c2paTrustAnchors
}
// The unsure band and the C2PA trust list (imageauth/verdict.py, imageauth/provenance.py).
var evidenceSettings = union(unsureLowSetting, unsureHighSetting, trustAnchorsSetting)
// CORS: the static web app's origin plus any explicitly listed ones.
var staticWebAppOrigins = [
  staticWebApp.outputs.url
]

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityId: identity.outputs.id
    blobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    pythonVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    allowedOrigins: concat(staticWebAppOrigins, extraAllowedOrigins)
    appSettings: union(hostStorage, storageConnection, monitoringSettings, limitSettings, thresholdSetting, modelDirSetting, evidenceSettings)
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    imagesContainerName: imagesContainerName
    resultsContainerName: resultsContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module smokeTestAccess 'modules/smoketest.bicep' = if (!empty(smokeTestPrincipalId)) {
  name: 'smoketest'
  params: {
    principalId: smokeTestPrincipalId
    storageAccountName: storage.outputs.name
    imagesContainerName: imagesContainerName
    resultsContainerName: resultsContainerName
  }
}

module systemTopic 'modules/systemtopic.bicep' = {
  name: 'systemtopic'
  params: {
    name: names.systemTopic
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
  }
}

// Outputs in UPPER_SNAKE: the deploy workflow reads them by these names.
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output API_BASE_URL string = functionApp.outputs.url
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = systemTopic.outputs.name
output IMAGES_CONTAINER_NAME string = imagesContainerName
output RESULTS_CONTAINER_NAME string = resultsContainerName
output DEAD_LETTER_CONTAINER_NAME string = deadLetterContainerName
output AZURE_APPLICATION_INSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output STATIC_WEB_APP_NAME string = staticWebApp.outputs.name
output STATIC_WEB_APP_URL string = staticWebApp.outputs.url
