// The function app on the Flex Consumption plan (FC1): it scales to zero when idle and runs
// the code package from the deployment container, which it reads with its user-assigned identity.
param name string
param planName string
param location string
param tags object = {}
@description('Resource id of the user-assigned identity.')
param identityId string
@description('Primary blob endpoint of the storage account, ending in a slash.')
param blobEndpoint string
param deploymentContainerName string
param pythonVersion string
param instanceMemoryMB int
param maximumInstanceCount int
@description('Origins allowed by CORS; the static web app, never "*".')
param allowedOrigins array
@description('All app settings; this module replaces the whole set on every deployment.')
param appSettings object

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Flex Consumption rejects (ARM error 51021) or ignores many App Service siteConfig
    // properties (ftpsState, linuxFxVersion, alwaysOn, ...): FTP stays off through the `ftp`
    // publishing policy below, the runtime is functionAppConfig's.
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      cors: {
        allowedOrigins: allowedOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }

  // Code is deployed with the workflow's Microsoft Entra token (OneDeploy), so the basic-auth
  // publishing endpoints stay off.
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

output name string = functionApp.name
// The page and the smoke test append /api/... to this origin.
output url string = 'https://${functionApp.properties.defaultHostName}'
