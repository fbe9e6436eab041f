import { dirname, join } from 'node:path';
import { Controller, Get, Header, Param, ParseEnumPipe, Res } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Response } from 'express';
import { Public } from '../auth/public';
import { buildOpenApiDocument } from './openapi-document';

/** Swagger UI's files, served from the package: the docs work offline, with no CDN. */
const uiDirectory = dirname(require.resolve('swagger-ui-dist/package.json'));
enum UiAsset {
  script = 'swagger-ui-bundle.js',
  stylesheet = 'swagger-ui.css',
}

const uiPage = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Fleetlog API</title>
    <link rel="stylesheet" href="/docs/assets/${UiAsset.stylesheet}" />
  </head>
  <body>
    <div id="ui"></div>
    <script src="/docs/assets/${UiAsset.script}"></script>
    <script>SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#ui' });</script>
  </body>
</html>
`;

@Controller('docs')
@Public()
export class DocsController {
  private document: object | undefined;

  constructor(private readonly discovery: DiscoveryService) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  ui(): string {
    return uiPage;
  }

  /** Built on first request, when every module's controllers are registered. */
  @Get('openapi.json')
  openApi(): object {
    this.document ??= buildOpenApiDocument(
      this.discovery.getControllers().flatMap((wrapper) => (wrapper.metatype ? [wrapper.metatype] : [])),
      { title: 'Fleetlog API', version: '1' },
    );
    return this.document;
  }

  @Get('assets/:file')
  asset(@Param('file', new ParseEnumPipe(UiAsset)) file: UiAsset, @Res() response: Response): void {
    response.sendFile(join(uiDirectory, file), { maxAge: '1d' });
  }
}
